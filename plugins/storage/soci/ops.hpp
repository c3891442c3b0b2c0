// The storage operations of docs/plugin-contracts.md, each a function from a request JSON to
// a response JSON over the pool. Errors are thrown as atlas::sdk::Error.
#pragma once

#include <string>
#include <string_view>

#include "db.hpp"

namespace atlas_soci {

std::string run_op(Pool& pool, std::string_view op, std::string_view request_json);

}  // namespace atlas_soci
