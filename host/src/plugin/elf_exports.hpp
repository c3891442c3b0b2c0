// Reads the dynamic symbol table (.dynsym) of an ELF file without loading it.
//
// Why not only boost::dll::library_info: in Boost 1.74 it reads .symtab (absent from
// stripped libraries, which vendors ship) and resolves names against the LAST string table
// of the file (usually .shstrtab), so it reports garbage names for ordinary plugins. This
// reader follows the ELF rules: .dynsym, names from the section its sh_link points to.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace atlas::plugin {

// Names of the defined, default-visibility, global or weak symbols a dynamic linker would
// resolve in `file`. INVALID_ARGUMENT when the file is not an ELF shared object for this
// machine (the message says what was found).
Result<std::vector<std::string>> elf_dynamic_exports(const std::filesystem::path& file);

}  // namespace atlas::plugin
