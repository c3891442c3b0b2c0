#include "cli/cli.hpp"

int main(int argc, char** argv) { return atlas::cli::main(argc, argv); }
