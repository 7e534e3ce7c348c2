// What LMDB itself costs: the full path's bytes, in the full path's number of records, appended
// with liblmdb directly, one write transaction per record, as the journal's group commit does.
#include <lmdb.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "tools/bench/bench.h"

namespace oddsbus::bench {
namespace {

std::string lmdb_error(const char* what, int rc) {
  return std::string("raw lmdb: ") + what + ": " + mdb_strerror(rc);
}

// Closes the environment on every path out.
struct Env {
  MDB_env* env = nullptr;
  ~Env() {
    if (env != nullptr) mdb_env_close(env);
  }
};

}  // namespace

std::expected<Measurement, std::string> run_raw_lmdb(const RawLmdbOptions& options) {
  if (options.batches == 0 || options.bytes < options.batches) {
    return std::unexpected("raw lmdb: needs at least one byte per record");
  }
  auto scratch = ScratchDir::create(options.parent_dir);
  if (!scratch) return std::unexpected(scratch.error());

  Env env;
  if (int rc = mdb_env_create(&env.env); rc != 0) return std::unexpected(lmdb_error("create", rc));
  mdb_env_set_maxdbs(env.env, 2);
  mdb_env_set_mapsize(env.env, size_t{1} << 36);
  unsigned flags = MDB_NOTLS;
  if (options.durability == engine::Durability::kNoSync) flags |= MDB_NOSYNC | MDB_NOMETASYNC;
  if (int rc = mdb_env_open(env.env, scratch->path().c_str(), flags, 0644); rc != 0) {
    return std::unexpected(lmdb_error("open", rc));
  }
  MDB_dbi dbi = 0;
  {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env.env, nullptr, 0, &txn); rc != 0) {
      return std::unexpected(lmdb_error("begin", rc));
    }
    if (int rc = mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY, &dbi); rc != 0) {
      mdb_txn_abort(txn);
      return std::unexpected(lmdb_error("dbi open", rc));
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return std::unexpected(lmdb_error("commit", rc));
  }

  // Record sizes spread the bytes evenly; the content is opaque to LMDB.
  const uint64_t base = options.bytes / options.batches;
  const uint64_t longer = options.bytes % options.batches;  // this many records get one byte more
  const uint64_t frames_per_record = std::max<uint64_t>(options.frames / options.batches, 1);
  std::vector<uint8_t> value(base + 1);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>(i * 131 + 7);

  const auto start = std::chrono::steady_clock::now();
  uint64_t key = 1;
  for (uint64_t i = 0; i < options.batches; ++i) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env.env, nullptr, 0, &txn); rc != 0) {
      return std::unexpected(lmdb_error("begin", rc));
    }
    std::memcpy(value.data(), &key, sizeof key);
    MDB_val k{sizeof key, &key};
    MDB_val v{base + (i < longer ? 1 : 0), value.data()};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return std::unexpected(lmdb_error("put", rc));
    }
    if (rc = mdb_txn_commit(txn); rc != 0) return std::unexpected(lmdb_error("commit", rc));
    key += frames_per_record;
  }
  const auto end = std::chrono::steady_clock::now();

  Measurement m;
  m.frames = options.frames;
  m.bytes = options.bytes;
  m.batches = options.batches;
  m.seconds = std::chrono::duration<double>(end - start).count();
  return m;
}

}  // namespace oddsbus::bench
