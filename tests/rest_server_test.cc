// The HTTP server, router and metric formats behind the REST API: answers,
// errors, limits and the token, over real sockets on loopback.
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/coordinator/checkpoint_history.h"
#include "runtime/metrics/prometheus.h"
#include "runtime/metrics/task_rates.h"
#include "runtime/rest/http_server.h"
#include "runtime/rest/router.h"
#include "tests/http_client.h"
#include "tests/test_support.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using testing::http_request;
using testing::raw_exchange;

// A router with a few routes, as a server answers them.
struct Served {
  explicit Served(HttpServerOptions options = {}) {
    router.add("GET", "/things", [](const HttpRequest& r, const PathParams&) {
      return json_response({{"things", 2}, {"q", r.query.count("q") ? r.query.at("q") : ""}});
    });
    router.add("GET", "/things/{id}", [](const HttpRequest&, const PathParams& p) {
      return json_response({{"id", p.at("id")}});
    });
    router.add("POST", "/things", [this](const HttpRequest& r, const PathParams&) {
      ++posts;
      nlohmann::json body = json_body(r);
      return json_response({{"got", body}}, 202);
    });
    router.add("GET", "/boom", [](const HttpRequest&, const PathParams&) -> HttpResponse {
      throw std::runtime_error("it broke");
    });
    server = std::make_unique<HttpServer>(
        options, [this](const HttpRequest& request) { return router.handle(request); });
  }
  int port() const { return server->port(); }

  RestRouter router;
  std::atomic<int> posts{0};
  std::unique_ptr<HttpServer> server;
};

TEST(HttpServer, AnswersRoutesWithPathParametersAndDecodedQueries) {
  Served s;
  auto reply = http_request(s.port(), "GET", "/things?q=a%20b&x=1");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.json()["things"], 2);
  EXPECT_EQ(reply.json()["q"], "a b");
  EXPECT_EQ(http_request(s.port(), "GET", "/things/job%2D1").json()["id"], "job-1");
  auto posted = http_request(s.port(), "POST", "/things", R"({"a": [1, 2]})");
  EXPECT_EQ(posted.status, 202);
  EXPECT_EQ(posted.json()["got"]["a"][1], 2);
  auto head = http_request(s.port(), "HEAD", "/things");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST(HttpServer, UnknownPathsWrongMethodsAndBadJsonGetJsonErrors) {
  Served s;
  auto missing = http_request(s.port(), "GET", "/nothing/here");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json()["error"], "no resource at /nothing/here");
  auto wrong = http_request(s.port(), "DELETE", "/things");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("Allow"), "GET, POST");
  auto bad_json = http_request(s.port(), "POST", "/things", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.json()["error"], "the request's body is not valid JSON");
  auto not_object = http_request(s.port(), "POST", "/things", "[1]");
  EXPECT_EQ(not_object.status, 400);
  auto bad_escape = http_request(s.port(), "GET", "/things/%zz");
  EXPECT_EQ(bad_escape.status, 400);
  auto broken = http_request(s.port(), "GET", "/boom");
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.json()["error"], "it broke");
  // The server is still there for the next client.
  EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
}

TEST(HttpServer, MalformedHttpGetsA400AndTheConnectionCloses) {
  Served s;
  auto garbage = raw_exchange(s.port(), "\x16\x03\x01 this is not HTTP\r\n\r\n", 10s);
  EXPECT_TRUE(garbage.closed);
  EXPECT_NE(garbage.received.find("400 Bad Request"), std::string::npos) << garbage.received;
  EXPECT_NE(garbage.received.find("\"error\""), std::string::npos);
  auto bad_length = raw_exchange(
      s.port(), "POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n", 10s);
  EXPECT_TRUE(bad_length.closed);
  EXPECT_NE(bad_length.received.find("400 Bad Request"), std::string::npos);
  EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
}

// Random bytes and random near-HTTP requests, seeded: every one gets an
// answer or a closed connection, and the server keeps answering others.
TEST(HttpServer, SurvivesGarbageOfEveryShape) {
  HttpServerOptions options;
  options.read_timeout = 200;  // a request cut short is closed soon
  Served s(options);
  std::mt19937 rng(20261207);
  const std::vector<std::string> pieces = {"GET ",
                                           "POST ",
                                           "PATCH ",
                                           "/things",
                                           "/things/",
                                           "%",
                                           "%4",
                                           "?q=",
                                           "&",
                                           " HTTP/1.1",
                                           " HTTP/9.9",
                                           "\r\n",
                                           "Host: x\r\n",
                                           "Content-Length: 3\r\n",
                                           "Content-Length: -1\r\n",
                                           "Transfer-Encoding: chunked\r\n",
                                           "zz\r\n",
                                           "0\r\n\r\n",
                                           "{\"a\":",
                                           "\r\n\r\n",
                                           "\x00",
                                           "\xff\xfe",
                                           std::string(300, 'A')};
  for (int i = 0; i < 200; ++i) {
    std::string request;
    if (i % 2 == 0) {
      size_t n = 1 + rng() % 64;
      for (size_t b = 0; b < n; ++b) request += static_cast<char>(rng() % 256);
    } else {
      size_t n = 1 + rng() % 8;
      for (size_t p = 0; p < n; ++p) request += pieces[rng() % pieces.size()];
    }
    auto exchange = raw_exchange(s.port(), request, 5s);
    EXPECT_TRUE(exchange.closed || !exchange.received.empty()) << "request " << i;
    if (!exchange.received.empty()) {
      EXPECT_EQ(exchange.received.rfind("HTTP/1.1 ", 0), 0u) << "request " << i;
    }
  }
  EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
}

TEST(HttpServer, OversizedBodiesAndHeadersAreRefused) {
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  options.max_header_bytes = 2000;
  Served s(options);
  std::string big(5000, 'x');
  auto body = raw_exchange(
      s.port(), "POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + big, 10s);
  EXPECT_NE(body.received.find("413"), std::string::npos) << body.received;
  EXPECT_EQ(s.posts.load(), 0);
  auto header = raw_exchange(
      s.port(), "GET /things HTTP/1.1\r\nHost: x\r\nX-Padding: " + big + "\r\n\r\n", 10s);
  EXPECT_NE(header.received.find("431"), std::string::npos) << header.received;
  EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
}

TEST(HttpServer, AClientTooSlowToSendItsRequestIsCutOffAndOthersAreServed) {
  HttpServerOptions options;
  options.read_timeout = 300;
  Served s(options);
  auto started = std::chrono::steady_clock::now();
  std::thread slow([&] {
    // Half a request line, and then nothing: the server must not wait forever.
    auto exchange = raw_exchange(s.port(), "GET /thi", 20s);
    EXPECT_TRUE(exchange.closed);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  });
  // Meanwhile others are answered.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
  slow.join();
  // A client that connects and sends nothing is cut off too.
  EXPECT_TRUE(raw_exchange(s.port(), "", 20s).closed);
}

TEST(HttpServer, KeepsAConnectionAliveAcrossRequests) {
  Served s;
  auto exchange = raw_exchange(s.port(),
                               "GET /things HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /things/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                               10s);
  EXPECT_TRUE(exchange.closed);
  EXPECT_NE(exchange.received.find("\"things\":2"), std::string::npos);
  EXPECT_NE(exchange.received.find("\"id\":\"7\""), std::string::npos);
}

TEST(HttpServer, ConnectionsBeyondTheLimitAreRefused) {
  HttpServerOptions options;
  options.max_connections = 2;
  options.read_timeout = 5000;
  Served s(options);
  // Two idle connections hold the places (each sent part of a request).
  std::vector<std::thread> holders;
  std::atomic<int> held{0};
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&] {
      ++held;
      raw_exchange(s.port(), "GET /", 10s);
    });
  }
  ASSERT_TRUE(testing::eventually([&] { return held.load() == 2; }));
  // The third is closed at once, without an answer; once the holders are
  // cut off, clients are served again.
  bool refused = testing::eventually([&] {
    auto third = raw_exchange(s.port(), "GET /things HTTP/1.1\r\nHost: x\r\n\r\n", 2s);
    return third.closed && third.received.empty();
  });
  EXPECT_TRUE(refused);
  for (auto& t : holders) t.join();
  EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
}

TEST(HttpServer, ABearerTokenGuardsChangesButNotReads) {
  HttpServerOptions options;
  options.bearer_token = "s3cret";
  Served s(options);
  EXPECT_EQ(http_request(s.port(), "GET", "/things").status, 200);
  auto refused = http_request(s.port(), "POST", "/things", "{}");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(
      http_request(s.port(), "POST", "/things", "{}", {{"Authorization", "Bearer wrong"}}).status,
      401);
  EXPECT_EQ(s.posts.load(), 0);
  EXPECT_EQ(
      http_request(s.port(), "POST", "/things", "{}", {{"Authorization", "Bearer s3cret"}}).status,
      202);
  EXPECT_EQ(s.posts.load(), 1);
}

TEST(HttpServer, ABusyPortIsAClearError) {
  Served first;
  HttpServerOptions options;
  options.port = static_cast<uint16_t>(first.port());
  try {
    HttpServer second(options, [](const HttpRequest&) { return HttpResponse{}; });
    FAIL() << "a second server on the same port";
  } catch (const ExternalError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot serve HTTP on 127.0.0.1:"), std::string::npos)
        << e.what();
  }
}

TEST(Prometheus, GroupsSamplesByNameAndEscapesLabelValues) {
  PrometheusText text;
  text.add("sluice_numRecordsIn", "records in", PrometheusText::Type::kCounter,
           {{"job", "a\"b"}, {"vertex", "x\\y\nz"}}, 12);
  text.add("sluice_lag", "lag", PrometheusText::Type::kGauge, {}, 0.5);
  text.add("sluice_numRecordsIn", "records in", PrometheusText::Type::kCounter, {{"job", "c"}}, 3);
  text.add("bad-name", "x", PrometheusText::Type::kGauge, {}, 1);
  EXPECT_EQ(text.str(),
            "# HELP sluice_numRecordsIn records in\n"
            "# TYPE sluice_numRecordsIn counter\n"
            "sluice_numRecordsIn{job=\"a\\\"b\",vertex=\"x\\\\y\\nz\"} 12\n"
            "sluice_numRecordsIn{job=\"c\"} 3\n"
            "# HELP sluice_lag lag\n"
            "# TYPE sluice_lag gauge\n"
            "sluice_lag 0.5\n"
            "# HELP bad_name x\n"
            "# TYPE bad_name gauge\n"
            "bad_name 1\n");
}

TEST(Prometheus, ListsARegistryWithExtraLabelsAndReadings) {
  MetricRegistry registry;
  Counter counter;
  counter.add(5);
  int owner = 0;
  registry.add(&owner, "job_records_in", "records", counter, {{"task", "t/0"}});
  registry.add_reading(&owner, "state_bytes", "bytes", [] { return 42.0; });
  PrometheusText text;
  text.add_all(registry.collect(), "sluice_", {{"job", "j"}});
  std::string out = text.str();
  EXPECT_NE(out.find("sluice_job_records_in{job=\"j\",task=\"t/0\"} 5\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("sluice_state_bytes{job=\"j\"} 42\n"), std::string::npos) << out;
  registry.remove(&owner);
  EXPECT_TRUE(registry.collect().empty());
}

TEST(TaskRates, DivideASecondIntoBusyIdleAndBackpressuredTime) {
  TaskRateTracker tracker;
  auto t0 = TaskRateTracker::Clock::now();
  tracker.update(TaskReading{100, 50, 0, 0, std::nullopt}, t0);
  EXPECT_EQ(tracker.rates().records_in, 0);  // one reading: no rate yet
  // Two seconds later: 2000 records in, 600 ms idle and 400 ms
  // backpressured per second.
  tracker.update(TaskReading{4100, 1050, 1'200'000, 800'000, 77}, t0 + 2s);
  EXPECT_DOUBLE_EQ(tracker.rates().records_in, 2000);
  EXPECT_DOUBLE_EQ(tracker.rates().records_out, 500);
  EXPECT_DOUBLE_EQ(tracker.rates().idle_ms, 600);
  EXPECT_DOUBLE_EQ(tracker.rates().backpressured_ms, 400);
  EXPECT_DOUBLE_EQ(tracker.rates().busy_ms, 0);
  EXPECT_EQ(tracker.last().input_watermark, 77);
  // Counters that went back (a new attempt) give no negative rates, and
  // time never adds up to more than a second.
  tracker.update(TaskReading{10, 0, 9'000'000, 9'000'000, 78}, t0 + 3s);
  EXPECT_EQ(tracker.rates().records_in, 0);
  EXPECT_LE(tracker.rates().idle_ms + tracker.rates().backpressured_ms, 1000.0);
  EXPECT_GE(tracker.rates().busy_ms, 0);
}

TEST(CheckpointHistory, CountsStatusChangesOnceAndKeepsTheNewest) {
  CheckpointHistory history;
  for (int64_t id = 1; id <= 60; ++id) {
    CheckpointRecord r;
    r.id = id;
    history.update(r);  // in progress
    r.status = id % 10 == 0 ? CheckpointStatus::kFailed : CheckpointStatus::kCompleted;
    r.ended_at = 5;
    history.update(r);
  }
  CheckpointCounts counts = history.counts();
  EXPECT_EQ(counts.completed, 54);
  EXPECT_EQ(counts.failed, 6);
  EXPECT_EQ(counts.in_progress, 0);
  std::vector<CheckpointRecord> kept = history.checkpoints();
  ASSERT_EQ(kept.size(), CheckpointHistory::kCheckpointsKept);
  EXPECT_EQ(kept.front().id, 60);  // newest first
  EXPECT_EQ(kept.back().id, 11);
  EXPECT_EQ(history.latest(CheckpointStatus::kCompleted)->id, 59);
  EXPECT_EQ(history.latest(CheckpointStatus::kFailed)->id, 60);
}

}  // namespace
}  // namespace sluice
