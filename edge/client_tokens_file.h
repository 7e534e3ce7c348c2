// Reads the edge's tokens file (`--tokens FILE`, edge/client_tokens.h) at start-up. The file is
// refused when its permission bits let anyone but its owner read or write it, as ssh refuses a
// private key (the same rule as a feed's credentials, feeds/link/feed_credentials.h): a token
// that others can read is already leaked.
//
// Called once, on the main thread. Errors are one line naming the file and what is wrong.
#pragma once

#include <expected>
#include <string>

#include "edge/client_tokens.h"

namespace oddsbus::edge {

std::expected<ClientTokens, std::string> load_client_tokens(const std::string& path);

}  // namespace oddsbus::edge
