// Prometheus registry: exact text exposition output, label escaping, cumulative histogram
// buckets, invalid registrations, and concurrent updates.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "api/http/metrics.h"

namespace shuo::api::http {
namespace {

TEST(Metrics, RendersCounterGaugeAndHistogramExactly) {
  Metrics m;
  m.counter("shuo_requests_total", "Requests.", {{"route", "/v1/models"}, {"status", "200"}}).inc();
  m.counter("shuo_requests_total", "ignored help", {{"route", "/v1/models"}, {"status", "200"}}).inc(2);
  m.counter("shuo_requests_total", "", {{"route", "/x"}, {"status", "404"}}).inc();
  m.gauge("shuo_queue_depth", "Waiting requests.").set(3);
  m.gauge("shuo_queue_depth", "").dec();
  Histogram& h = m.histogram("shuo_ttft_seconds", "Time to first token.", {0.1, 0.5, 1});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) h.observe(v);

  EXPECT_EQ(m.render(),
            "# HELP shuo_requests_total Requests.\n"
            "# TYPE shuo_requests_total counter\n"
            "shuo_requests_total{route=\"/v1/models\",status=\"200\"} 3\n"
            "shuo_requests_total{route=\"/x\",status=\"404\"} 1\n"
            "# HELP shuo_queue_depth Waiting requests.\n"
            "# TYPE shuo_queue_depth gauge\n"
            "shuo_queue_depth 2\n"
            "# HELP shuo_ttft_seconds Time to first token.\n"
            "# TYPE shuo_ttft_seconds histogram\n"
            "shuo_ttft_seconds_bucket{le=\"0.1\"} 2\n"
            "shuo_ttft_seconds_bucket{le=\"0.5\"} 3\n"
            "shuo_ttft_seconds_bucket{le=\"1\"} 4\n"
            "shuo_ttft_seconds_bucket{le=\"+Inf\"} 5\n"
            "shuo_ttft_seconds_sum 3.15\n"
            "shuo_ttft_seconds_count 5\n");
}

TEST(Metrics, HistogramWithLabelsPutsLeLastAndKeepsBucketsCumulative) {
  Metrics m;
  Histogram& h = m.histogram("lat", "L.", {1, 2}, {{"model", "a"}});
  h.observe(5);
  h.observe(0.5);
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 1, 2}));
  EXPECT_EQ(s.count, 2u);
  EXPECT_DOUBLE_EQ(s.sum, 5.5);
  std::string text = m.render();
  EXPECT_NE(text.find("lat_bucket{model=\"a\",le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_bucket{model=\"a\",le=\"2\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_bucket{model=\"a\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_sum{model=\"a\"} 5.5\n"), std::string::npos);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.counter("c", "line1\nback\\slash", {{"path", "a\"b\\c\nd"}}).inc();
  EXPECT_EQ(m.render(),
            "# HELP c line1\\nback\\\\slash\n"
            "# TYPE c counter\n"
            "c{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, InvalidRegistrationsAreDetachedNotRendered) {
  Metrics m;
  m.counter("ok_total", "").inc();
  Gauge& clash = m.gauge("ok_total", "");  // same name, other type
  clash.set(7);
  EXPECT_EQ(clash.value(), 7);
  m.counter("bad-name", "").inc();
  m.counter("9starts_with_digit", "").inc();
  m.counter("x", "", {{"bad label", "v"}}).inc();
  m.histogram("h", "", {1}, {{"le", "reserved"}}).observe(1);
  EXPECT_EQ(m.render(), "# HELP ok_total \n# TYPE ok_total counter\nok_total 1\n");
}

TEST(Metrics, CounterIgnoresNegativeAndNaN) {
  Metrics m;
  Counter& c = m.counter("c", "");
  c.inc(2);
  c.inc(-1);
  c.inc(std::nan(""));
  EXPECT_EQ(c.value(), 2);
}

TEST(Metrics, FormatsSpecialValues) {
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(1e21), "1e+21");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  EXPECT_EQ(Metrics::exponential_buckets(0.001, 10, 3), (std::vector<double>{0.001, 0.01, 0.1}));
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 10000; ++i) {
        m.counter("hits_total", "", {{"t", std::to_string(t % 2)}}).inc();
        m.histogram("obs", "", {0.5}).observe(i % 2 ? 1.0 : 0.0);
        m.gauge("g", "").inc();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.counter("hits_total", "", {{"t", "0"}}).value(), 20000);
  EXPECT_EQ(m.counter("hits_total", "", {{"t", "1"}}).value(), 20000);
  EXPECT_EQ(m.gauge("g", "").value(), 40000);
  Histogram::Snapshot s = m.histogram("obs", "", {}).snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{20000, 40000}));
  EXPECT_EQ(s.sum, 20000);
}

}  // namespace
}  // namespace shuo::api::http
