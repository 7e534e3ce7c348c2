#include "edge/client_tokens_file.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace oddsbus::edge {

std::expected<ClientTokens, std::string> load_client_tokens(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::unexpected(path + ": cannot read the file");
  if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
    return std::unexpected(path + ": readable or writable by others (holds secrets): chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  auto tokens = ClientTokens::parse(text.str());
  if (!tokens) return std::unexpected(path + ": " + tokens.error().message);
  return std::move(*tokens);
}

}  // namespace oddsbus::edge
