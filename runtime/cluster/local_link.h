// The in-process transport of the local cluster: two connected
// ControlConnection ends. What one end sends is validated as if it had
// arrived in a frame and handed to the other end's on_message on that end's
// IoThread, in order; closing either end closes both, and each side's
// on_close runs once on its own IoThread. No sockets, no serialization
// beyond a copy of the message.
//
// Threading: send() and close() from any thread. Lifecycle: the ends live
// as long as someone holds them or a delivery is pending; both IoThreads
// must outlive them.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "runtime/cluster/rpc.h"

namespace sluice {

struct LocalLinkEnd {
  IoThread& io;
  RpcHandlers handlers;
  std::string name;  // how the other end's log lines name this one
};

// Returns (a's end, b's end): a sends on the first, b on the second.
std::pair<std::shared_ptr<ControlConnection>, std::shared_ptr<ControlConnection>> make_local_link(
    LocalLinkEnd a, LocalLinkEnd b);

}  // namespace sluice
