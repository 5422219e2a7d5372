// slim/strip: removes debug sections from one ELF file with the host's `strip --strip-debug`
// (binutils; it only parses the file, never runs it) and proves the result is still the same
// program to the dynamic linker: .dynsym, .dynstr and the program headers are byte-identical, and
// no .debug_* section is left. Anything else keeps the original file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::slim {

class Stripper {
  public:
    // Error(unsupported) when the tool is not on PATH.
    Stripper(std::string tool, std::filesystem::path tmp_dir);
    // The stripped bytes, or nullopt with `why` set.
    std::optional<std::string> strip(const std::string& elf, std::string& why);

  private:
    std::string tool_;
    std::filesystem::path tmp_;
};

// The bytes of a named section of an ELF image ("" when absent); false when malformed.
bool elf_section(std::string_view elf, const std::string& name, std::string_view& out);
// The program header table bytes (what the kernel and ld.so read).
bool elf_phdrs(std::string_view elf, std::string_view& out);

} // namespace gantry::slim
