#include "tools/cluster/supervisor.h"

#include <algorithm>
#include <stdexcept>

namespace oddsbus::cluster {

Supervisor::Supervisor(std::filesystem::path run_dir) : run_dir_(std::move(run_dir)) {
  std::filesystem::create_directories(run_dir_);
}

Supervisor::~Supervisor() { stop_all(std::chrono::seconds(2)); }

ChildProcess& Supervisor::add(const std::string& name, std::vector<std::string> argv,
                              std::function<bool()> ready) {
  if (has(name)) throw std::invalid_argument("supervisor: two processes named " + name);
  entries_.push_back(
      {name, std::make_unique<ChildProcess>(std::move(argv), log_path(name)), std::move(ready)});
  return *entries_.back().process;
}

Supervisor::Entry& Supervisor::entry(const std::string& name) {
  for (Entry& e : entries_) {
    if (e.name == name) return e;
  }
  throw std::out_of_range("supervisor: no process named " + name);
}

bool Supervisor::start(const std::string& name) { return entry(name).process->start(); }

bool Supervisor::start_all() {
  bool ok = true;
  for (Entry& e : entries_) {
    if (!e.process->running()) ok = e.process->start() && ok;
  }
  return ok;
}

bool Supervisor::ready(const std::string& name) {
  Entry& e = entry(name);
  if (!e.process->running()) return false;
  return !e.ready || e.ready();
}

Readiness Supervisor::wait_ready(const std::string& name, std::chrono::milliseconds timeout) {
  Entry& e = entry(name);
  return cluster::wait_ready(
      *e.process, [&e] { return !e.ready || e.ready(); }, timeout);
}

bool Supervisor::wait_all_ready(std::chrono::milliseconds timeout, std::string* report) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = true;
  for (Entry& e : entries_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const Readiness r = wait_ready(e.name, std::max(left, std::chrono::milliseconds(0)));
    if (r == Readiness::kReady) continue;
    ok = false;
    if (report != nullptr) {
      *report += e.name + ": " + readiness_name(r);
      if (auto code = e.process->exit_code()) *report += " (exit " + std::to_string(*code) + ")";
      *report += e.process->log_tail() + "\n";
    }
  }
  return ok;
}

int Supervisor::stop(const std::string& name, std::chrono::milliseconds grace) {
  return entry(name).process->stop(grace);
}

int Supervisor::kill9(const std::string& name) { return entry(name).process->kill9(); }

bool Supervisor::pause(const std::string& name) { return entry(name).process->pause(); }

bool Supervisor::resume(const std::string& name) { return entry(name).process->resume(); }

bool Supervisor::restart(const std::string& name, std::chrono::milliseconds grace) {
  return entry(name).process->restart(grace);
}

bool Supervisor::stop_all(std::chrono::milliseconds grace) {
  bool clean = true;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    ChildProcess& p = *it->process;
    if (!p.running()) continue;
    const int code = p.stop(grace);
    // A SIGTERM'd process that exits through its handler exits 0; one that dies of the signal
    // itself (128 + SIGTERM) did not shut down cleanly, nor one that needed SIGKILL.
    if (code != 0) clean = false;
  }
  return clean;
}

ChildProcess& Supervisor::process(const std::string& name) { return *entry(name).process; }

bool Supervisor::has(const std::string& name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return true;
  }
  return false;
}

std::vector<std::string> Supervisor::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

std::vector<pid_t> Supervisor::running_pids() {
  std::vector<pid_t> out;
  for (Entry& e : entries_) {
    if (e.process->running()) out.push_back(e.process->pid());
  }
  return out;
}

std::filesystem::path Supervisor::log_path(const std::string& name) const {
  return run_dir_ / (name + ".log");
}

}  // namespace oddsbus::cluster
