// A TCP relay for the development broker across hosts: it accepts on one
// address and port and copies bytes both ways to a target host and port,
// one target connection per accepted one.
//
// Why it exists: librdkafka's mock cluster (`sluice dev-kafka`) listens on
// 127.0.0.1 with random ports and advertises exactly those in its metadata;
// it cannot listen elsewhere nor advertise another name. So clients in other
// containers reach it through a pair of relays with the same port numbers:
// `dev-kafka --listen ADDRESS` relays ADDRESS:P to 127.0.0.1:P on the
// broker's host, and `sluice kafka-relay` relays 127.0.0.1:P on a client's
// host to the broker's host:P, where metadata then sends the client.
//
// Threading: the relays of one TcpRelays run on its own io thread.
// Lifecycle: construct -> add* (each starts accepting at once) -> destroy
// (closes the listeners and every relayed connection, joins the thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice::topologies {

class TcpRelays {
 public:
  TcpRelays();
  ~TcpRelays();
  TcpRelays(const TcpRelays&) = delete;
  TcpRelays& operator=(const TcpRelays&) = delete;

  // Accepts on `listen_host`:`port` and relays to `target_host`:`target_port`
  // (resolved for every connection). Throws ExternalError when it cannot
  // listen, naming the address.
  void add(const std::string& listen_host, uint16_t port, const std::string& target_host,
           uint16_t target_port);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The ports of a bootstrap list "HOST:PORT,HOST:PORT,...". Throws
// InputError naming the list when an entry is malformed.
std::vector<uint16_t> bootstrap_ports(const std::string& bootstraps);

}  // namespace sluice::topologies
