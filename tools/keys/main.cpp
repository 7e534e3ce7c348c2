// odds-keys: CURVE key pairs for the ZeroMQ links (issue 14, DESIGN section 10).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "schemas/curve_keys.h"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "odds-keys: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "odds-keys: CurveZMQ key pairs for oddsbus's ZeroMQ links (PUB/SUB, recovery, "
      "replication, desk).\n"
      "Example: a node's pair, and an edge's public key on the node's allow list:\n"
      "  odds-keys generate --out keys/node1      # keys/node1.key (0600), keys/node1.pub\n"
      "  odds-keys generate --out keys/edge1\n"
      "  cat keys/edge1.pub keys/node2.pub > keys/node1.allow\n"
      "  odds-engine run ... --curve-key keys/node1.key --curve-allow keys/node1.allow\n"
      "  odds-edge ... --curve-key keys/edge1.key --curve-server-key keys/node1.pub",
      "odds-keys"};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("odds-keys: ") + e.what() + " (see --help)\n";
  });
  std::string out;
  auto* generate = app.add_subcommand(
      "generate",
      "Write a fresh key pair: PATH.key, the secret key (Z85), created mode 0600 (a "
      "secret key file others may read is refused by every binary), and PATH.pub, the public key "
      "(Z85), for --curve-server-key and --curve-allow lists. Never overwrites either.");
  generate->add_option("--out", out, "PATH: writes PATH.key and PATH.pub")->required();
  CLI11_PARSE(app, argc, argv);

  if (*generate) {
    try {
      const oddsbus::curve::KeyPair pair = oddsbus::curve::generate_key_pair();
      if (auto written = oddsbus::curve::write_key_files(out, pair); !written) {
        return fail(written.error().message);
      }
      std::printf("%s\n", oddsbus::curve::z85(pair.public_key).c_str());
      std::fprintf(stderr, "odds-keys: wrote %s.key (secret, 0600) and %s.pub\n", out.c_str(),
                   out.c_str());
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  return 0;
}
