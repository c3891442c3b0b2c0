// SHA-256 digests (OpenSSL libcrypto): learning keys, playbook entry ids, export row hashes.
#pragma once

#include <string>
#include <string_view>

namespace atlas {

// SHA-256 of `data` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace atlas
