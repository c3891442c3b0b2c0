#include "plugin/elf_exports.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace atlas::plugin {

namespace {

const char* machine_name(unsigned m) {
  switch (m) {
    case EM_X86_64: return "x86-64";
    case EM_386: return "i386";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390";
    default: return nullptr;
  }
}

unsigned host_machine() {
#if defined(__x86_64__)
  return EM_X86_64;
#elif defined(__aarch64__)
  return EM_AARCH64;
#elif defined(__i386__)
  return EM_386;
#elif defined(__arm__)
  return EM_ARM;
#elif defined(__riscv)
  return EM_RISCV;
#elif defined(__powerpc64__)
  return EM_PPC64;
#else
  return EM_NONE;
#endif
}

template <typename Ehdr, typename Shdr, typename Sym>
Result<std::vector<std::string>> read_exports(const std::string& data, const std::string& name) {
  auto bad = [&](const std::string& what) {
    return invalid_argument(name + ": damaged ELF file (" + what + ")");
  };
  if (data.size() < sizeof(Ehdr)) return bad("truncated header");
  Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  unsigned host = host_machine();
  if (host != EM_NONE && eh.e_machine != host) {
    const char* found = machine_name(eh.e_machine);
    return invalid_argument(name + ": built for " + (found ? std::string(found) : "machine " + std::to_string(eh.e_machine)) +
                            ", this host is " + machine_name(host));
  }
  if (eh.e_type != ET_DYN) return invalid_argument(name + ": an ELF file, but not a shared object (e_type " +
                                                   std::to_string(eh.e_type) + ")");
  if (eh.e_shentsize != sizeof(Shdr) || eh.e_shoff == 0) return bad("no section headers");
  uint64_t table_end = uint64_t{eh.e_shoff} + uint64_t{eh.e_shnum} * sizeof(Shdr);
  if (table_end > data.size()) return bad("section headers past the end of the file");
  auto section = [&](size_t i) {
    Shdr sh;
    std::memcpy(&sh, data.data() + eh.e_shoff + i * sizeof(Shdr), sizeof sh);
    return sh;
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Shdr sh = section(i);
    if (sh.sh_type != SHT_DYNSYM) continue;
    if (sh.sh_link >= eh.e_shnum) return bad(".dynsym links to a missing string table");
    Shdr strtab = section(sh.sh_link);
    if (uint64_t{sh.sh_offset} + sh.sh_size > data.size() || uint64_t{strtab.sh_offset} + strtab.sh_size > data.size()) {
      return bad("symbol table past the end of the file");
    }
    size_t count = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
    for (size_t k = 1; k < count; ++k) {  // entry 0 is the reserved null symbol
      Sym s;
      std::memcpy(&s, data.data() + sh.sh_offset + k * sh.sh_entsize, sizeof s);
      unsigned bind = s.st_info >> 4;
      if (s.st_shndx == SHN_UNDEF || s.st_shndx == SHN_ABS || (bind != STB_GLOBAL && bind != STB_WEAK)) continue;
      if ((s.st_other & 0x3) != STV_DEFAULT && (s.st_other & 0x3) != STV_PROTECTED) continue;
      if (s.st_name >= strtab.sh_size) return bad("symbol name outside the string table");
      const char* str = data.data() + strtab.sh_offset + s.st_name;
      size_t max = strtab.sh_size - s.st_name;
      out.emplace_back(str, strnlen(str, max));
    }
  }
  return out;
}

// What a file that is not ELF looks like: "a text file starting with \"...\"" or its bytes.
std::string describe_non_elf(const std::string& data) {
  if (data.empty()) return "an empty file";
  size_t n = std::min<size_t>(data.size(), 24);
  bool text = true;
  for (size_t i = 0; i < std::min<size_t>(data.size(), 512); ++i) {
    unsigned char c = static_cast<unsigned char>(data[i]);
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f) text = false;
  }
  if (text) {
    std::string head = data.substr(0, n);
    for (char& c : head) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return "a text file starting with \"" + head + (data.size() > n ? "..." : "") + "\", not an ELF binary";
  }
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < std::min<size_t>(data.size(), 4); ++i) {
    unsigned char c = static_cast<unsigned char>(data[i]);
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return "unknown binary format (first bytes " + hex + ", an ELF file starts with 7f454c46)";
}

}  // namespace

Result<std::vector<std::string>> elf_dynamic_exports(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return not_found(file.string() + ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string name = file.string();
  if (data.size() < EI_NIDENT || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0) {
    return invalid_argument(name + ": " + describe_non_elf(data));
  }
  bool little = data[EI_DATA] == ELFDATA2LSB;
  bool host_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if (little != host_little) return invalid_argument(name + ": ELF file of the other byte order");
  if (data[EI_CLASS] == ELFCLASS64) return read_exports<Elf64_Ehdr, Elf64_Shdr, Elf64_Sym>(data, name);
  if (data[EI_CLASS] == ELFCLASS32) {
    if (sizeof(void*) == 8) return invalid_argument(name + ": a 32-bit library, this host is 64-bit");
    return read_exports<Elf32_Ehdr, Elf32_Shdr, Elf32_Sym>(data, name);
  }
  return invalid_argument(name + ": unknown ELF class");
}

}  // namespace atlas::plugin
