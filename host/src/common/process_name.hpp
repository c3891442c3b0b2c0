// How a process names itself to the others sharing one database (work-queue leases, gateway
// episode leases): "<hostname>:<pid>", readable in `queue status` and in the tables.
#pragma once

#include <string>

namespace atlas {

std::string host_and_pid();

}  // namespace atlas
