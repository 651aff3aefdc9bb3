// The development broker's TCP relay (topologies/tcp_relay.h): bytes go
// both ways through it unchanged, a closed side closes the other, and the
// bootstrap lists it reads are checked.
#include "topologies/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/core/errors.h"

namespace sluice {
namespace {

// A listening socket on 127.0.0.1 and a free port.
struct Listener {
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd, 4), 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd); }
  int fd = -1;
  uint16_t port = 0;
};

uint16_t free_port() {
  return Listener().port;
}

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

std::string read_exactly(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

TEST(TcpRelay, CopiesBothWaysAndClosesTogether) {
  Listener target;
  uint16_t port = free_port();
  topologies::TcpRelays relays;
  relays.add("127.0.0.1", port, "127.0.0.1", target.port);
  int client = connect_to(port);
  int server = ::accept(target.fd, nullptr, nullptr);
  ASSERT_GE(server, 0);
  std::string big(300 * 1024, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::thread writer(
      [&] { ASSERT_EQ(::write(client, big.data(), big.size()), ssize_t(big.size())); });
  EXPECT_EQ(read_exactly(server, big.size()), big);
  writer.join();
  ASSERT_EQ(::write(server, "pong", 4), 4);
  EXPECT_EQ(read_exactly(client, 4), "pong");
  ::close(server);
  char byte;
  EXPECT_EQ(::read(client, &byte, 1), 0) << "the client side stayed open";
  ::close(client);
}

TEST(TcpRelay, ListeningOnABadAddressIsAClearError) {
  topologies::TcpRelays relays;
  EXPECT_THROW(relays.add("not-an-address", 1, "127.0.0.1", 1), UsageError);
  Listener taken;
  EXPECT_THROW(relays.add("127.0.0.1", taken.port, "127.0.0.1", 1), ExternalError);
}

TEST(TcpRelay, BootstrapPorts) {
  EXPECT_EQ(topologies::bootstrap_ports("127.0.0.1:9092,127.0.0.1:9093"),
            (std::vector<uint16_t>{9092, 9093}));
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:x", "a:1,", "a:0", "a:70000"}) {
    EXPECT_THROW(topologies::bootstrap_ports(bad), InputError) << bad;
  }
}

}  // namespace
}  // namespace sluice
