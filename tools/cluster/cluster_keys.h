// CURVE keys for a local cluster (issue 14): odds-cluster (the demo) and odds-chaos run every
// ZeroMQ link with CURVE on. One key pair per component in RUN_DIR/keys/ (NAME.key, 0600, and
// NAME.pub, as odds-keys generate writes them; reused when the run directory is used again) and
// one allow list, RUN_DIR/keys/allow, of every component's public key, which every server takes.
// The supervisor's own probes (engine_status) are a component too ("supervisor").
//
// Thread safety: none needed; immutable after create().
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "schemas/curve_link.h"

namespace oddsbus::cluster {

class ClusterKeys {
 public:
  // Generates (or loads) a pair per name, writes the allow list. "supervisor" is always added.
  static std::expected<ClusterKeys, std::string> create(const std::filesystem::path& run_dir,
                                                        std::vector<std::string> names);

  std::string key(const std::string& name) const;  // RUN_DIR/keys/NAME.key
  std::string pub(const std::string& name) const;  // RUN_DIR/keys/NAME.pub
  std::string allow() const;                       // RUN_DIR/keys/allow

  // The supervisor's CURVE client for `servers` (URL, the component serving it).
  std::shared_ptr<const curve::CurveClient> supervisor_client(
      const std::vector<std::pair<std::string, std::string>>& servers) const;

 private:
  std::filesystem::path dir_;
  std::vector<std::pair<std::string, curve::KeyPair>> pairs_;
};

}  // namespace oddsbus::cluster
