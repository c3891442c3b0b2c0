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

// Reads byte ranges of the file on demand: only the ELF header, the section table and the
// dynamic symbol/string tables are touched, not the whole library.
class FileReader {
 public:
  explicit FileReader(std::ifstream& in, uint64_t size) : in_(in), size_(size) {}
  uint64_t size() const { return size_; }
  bool read(uint64_t offset, size_t len, void* dst) {
    if (offset > size_ || len > size_ - offset) return false;
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    return static_cast<bool>(in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(len)));
  }

 private:
  std::ifstream& in_;
  uint64_t size_;
};

template <typename Ehdr, typename Shdr, typename Sym>
Result<std::vector<std::string>> read_exports(FileReader& file, const std::string& name) {
  auto bad = [&](const std::string& what) {
    return invalid_argument(name + ": damaged ELF file (" + what + ")");
  };
  Ehdr eh;
  if (!file.read(0, sizeof eh, &eh)) return bad("truncated header");
  unsigned host = host_machine();
  if (host != EM_NONE && eh.e_machine != host) {
    const char* found = machine_name(eh.e_machine);
    return invalid_argument(name + ": built for " + (found ? std::string(found) : "machine " + std::to_string(eh.e_machine)) +
                            ", this host is " + machine_name(host));
  }
  if (eh.e_type != ET_DYN) return invalid_argument(name + ": an ELF file, but not a shared object (e_type " +
                                                   std::to_string(eh.e_type) + ")");
  if (eh.e_shentsize != sizeof(Shdr) || eh.e_shoff == 0 || eh.e_shnum == 0) return bad("no section headers");
  std::vector<Shdr> sections(eh.e_shnum);
  if (!file.read(eh.e_shoff, sections.size() * sizeof(Shdr), sections.data())) {
    return bad("section headers past the end of the file");
  }
  std::vector<std::string> out;
  for (const Shdr& sh : sections) {
    if (sh.sh_type != SHT_DYNSYM) continue;
    if (sh.sh_link >= sections.size()) return bad(".dynsym links to a missing string table");
    const Shdr& strtab = sections[sh.sh_link];
    if (sh.sh_entsize < sizeof(Sym) || sh.sh_size > file.size() || strtab.sh_size > file.size()) {
      return bad("implausible symbol table");
    }
    std::vector<char> syms(sh.sh_size), strings(strtab.sh_size + 1, '\0');
    if (!file.read(sh.sh_offset, syms.size(), syms.data()) ||
        !file.read(strtab.sh_offset, strtab.sh_size, strings.data())) {
      return bad("symbol table past the end of the file");
    }
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t k = 1; k < count; ++k) {  // entry 0 is the reserved null symbol
      Sym s;
      std::memcpy(&s, syms.data() + k * sh.sh_entsize, sizeof s);
      unsigned bind = s.st_info >> 4;
      if (s.st_shndx == SHN_UNDEF || s.st_shndx == SHN_ABS || (bind != STB_GLOBAL && bind != STB_WEAK)) continue;
      if ((s.st_other & 0x3) != STV_DEFAULT && (s.st_other & 0x3) != STV_PROTECTED) continue;
      if (s.st_name >= strtab.sh_size) return bad("symbol name outside the string table");
      out.emplace_back(strings.data() + s.st_name);  // NUL-terminated: `strings` has a spare 0
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
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return not_found(file.string() + ": cannot open");
  std::streamoff size = in.tellg();
  if (size < 0) return not_found(file.string() + ": cannot determine the file size");
  FileReader reader(in, static_cast<uint64_t>(size));
  std::string name = file.string();
  std::string head(static_cast<size_t>(std::min<std::streamoff>(size, 512)), '\0');
  if (!reader.read(0, head.size(), head.data())) return not_found(name + ": read error");
  if (head.size() < EI_NIDENT || std::memcmp(head.data(), ELFMAG, SELFMAG) != 0) {
    return invalid_argument(name + ": " + describe_non_elf(head));
  }
  bool little = head[EI_DATA] == ELFDATA2LSB;
  bool host_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if (little != host_little) return invalid_argument(name + ": ELF file of the other byte order");
  if (head[EI_CLASS] == ELFCLASS64) return read_exports<Elf64_Ehdr, Elf64_Shdr, Elf64_Sym>(reader, name);
  if (head[EI_CLASS] == ELFCLASS32) {
    if (sizeof(void*) == 8) return invalid_argument(name + ": a 32-bit library, this host is 64-bit");
    return read_exports<Elf32_Ehdr, Elf32_Shdr, Elf32_Sym>(reader, name);
  }
  return invalid_argument(name + ": unknown ELF class");
}

}  // namespace atlas::plugin
