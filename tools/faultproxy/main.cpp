// odds-faultproxy: a TCP fault proxy on loopback (tools/faultproxy/fault_proxy.h) controlled over
// a line protocol (tools/faultproxy/control_line.h). Flags in, proxy wired, runs until SIGINT or
// SIGTERM.
#include <signal.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/faultproxy/fault_proxy.h"

using namespace oddsbus::faultproxy;

int main(int argc, char** argv) {
  CLI::App app{
      "odds-faultproxy: forwards TCP connections from a loopback port to a loopback target, "
      "both ways, and applies faults on demand (delay, stall, reset, black-hole, heal) sent as "
      "lines to the control port: 'delay MS', 'stall', 'reset', 'blackhole', 'heal', 'stats'."};
  std::string listen_text, to_text, control_text;
  app.add_option("--listen", listen_text, "HOST:PORT to accept on (loopback; port 0: any)")
      ->required();
  app.add_option("--to", to_text, "HOST:PORT to forward to (loopback)")->required();
  app.add_option("--control", control_text, "HOST:PORT for the control line protocol (loopback)");
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "odds-faultproxy: %s\n", message.c_str());
    return 1;
  };
  auto listen = parse_endpoint(listen_text);
  if (!listen) return fail("--listen: " + listen.error());
  auto to = parse_endpoint(to_text);
  if (!to) return fail("--to: " + to.error());

  // Blocked before any thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto proxy = FaultProxy::start(*listen, *to);
  if (!proxy) return fail(proxy.error());
  std::string control_note;
  if (!control_text.empty()) {
    auto control = parse_endpoint(control_text);
    if (!control) return fail("--control: " + control.error());
    auto port = (*proxy)->serve_control(*control);
    if (!port) return fail(port.error());
    control_note = ", control on " + control->host + ":" + std::to_string(*port);
  }
  std::fprintf(stderr, "odds-faultproxy: listening on %s:%u -> %s:%u%s\n", listen->host.c_str(),
               (*proxy)->port(), to->host.c_str(), to->port, control_note.c_str());
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "odds-faultproxy: stopping on signal %d\n", signal_number);
  return 0;
}
