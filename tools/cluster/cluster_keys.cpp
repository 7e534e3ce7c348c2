#include "tools/cluster/cluster_keys.h"

#include <algorithm>
#include <fstream>

namespace oddsbus::cluster {

std::expected<ClusterKeys, std::string> ClusterKeys::create(const std::filesystem::path& run_dir,
                                                            std::vector<std::string> names) {
  ClusterKeys keys;
  keys.dir_ = run_dir / "keys";
  std::error_code ec;
  std::filesystem::create_directories(keys.dir_, ec);
  if (ec) return std::unexpected("cannot create " + keys.dir_.string() + ": " + ec.message());
  if (std::ranges::find(names, "supervisor") == names.end()) names.push_back("supervisor");
  std::string allow = "# Written by the cluster supervisor: every component's public key\n";
  for (const std::string& name : names) {
    const std::string out = (keys.dir_ / name).string();
    curve::KeyPair pair;
    if (std::filesystem::exists(out + ".key")) {
      auto loaded = curve::load_key_pair(out + ".key");
      if (!loaded) return std::unexpected(loaded.error().message);
      pair = *loaded;
    } else {
      pair = curve::generate_key_pair();
      std::filesystem::remove(out + ".pub", ec);
      if (auto written = curve::write_key_files(out, pair); !written) {
        return std::unexpected(written.error().message);
      }
    }
    allow += curve::z85(pair.public_key) + "  # " + name + "\n";
    keys.pairs_.emplace_back(name, pair);
  }
  std::ofstream file(keys.allow(), std::ios::trunc);
  file << allow;
  file.flush();
  if (!file) return std::unexpected("cannot write " + keys.allow());
  return keys;
}

std::string ClusterKeys::key(const std::string& name) const {
  return (dir_ / (name + ".key")).string();
}

std::string ClusterKeys::pub(const std::string& name) const {
  return (dir_ / (name + ".pub")).string();
}

std::string ClusterKeys::allow() const { return (dir_ / "allow").string(); }

std::shared_ptr<const curve::CurveClient> ClusterKeys::supervisor_client(
    const std::vector<std::pair<std::string, std::string>>& servers) const {
  auto pair_of = [&](const std::string& name) {
    for (const auto& [n, pair] : pairs_) {
      if (n == name) return pair;
    }
    throw std::invalid_argument("cluster keys: no key pair for " + name);
  };
  auto client = std::make_shared<curve::CurveClient>();
  client->own = pair_of("supervisor");
  for (const auto& [url, component] : servers) {
    client->servers.emplace_back(url, pair_of(component).public_key);
  }
  return client;
}

}  // namespace oddsbus::cluster
