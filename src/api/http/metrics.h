// Metrics: a small thread-safe registry of counters, gauges and histograms with labels, rendered
// in the Prometheus text exposition format (version 0.0.4). Owned by whoever serves it (the HTTP
// Server owns one); there is no global registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shuo::api::http {

// Label pairs in a fixed order: {{"route", "/v1/models"}, {"status", "200"}}. A series is found by
// its names and values in this order, so always pass a family's labels in the same order.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A value that only goes up. All operations are lock-free.
class Counter {
 public:
  void inc(double amount = 1.0);  // amount < 0 or NaN is ignored
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (queue depth, open connections). Lock-free.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void inc() { add(1.0); }
  void dec() { add(-1.0); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets with upper bounds `bounds` (strictly increasing, finite; an
// implicit +Inf bucket follows). observe() is lock-free: one bucket increment and one sum add.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);  // NaN is ignored

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // [bounds.size() + 1]: count of observations <= bound; last is +Inf
    double sum = 0.0;
    uint64_t count = 0;                // == cumulative.back()
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // [bounds_.size() + 1], not cumulative
  std::atomic<double> sum_{0.0};
};

class Metrics {
 public:
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Get or create the series `name{labels}`. The returned reference stays valid for the
  // registry's lifetime; hot paths should look it up once and keep it. `help` and (for
  // histograms) `bounds` are taken from the family's first registration. A name that is not a
  // valid Prometheus metric name, a label name that is invalid, or a name already registered
  // with another type gets a detached series that works but is never rendered.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});

  // Every family in registration order, each series in creation order:
  // "# HELP", "# TYPE", then samples; histograms as _bucket{le="..."} (cumulative), _sum, _count.
  std::string render() const;

  // {start, start*factor, ...} with `count` bounds (for latency histograms).
  static std::vector<double> exponential_buckets(double start, double factor, int count);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::vector<double> bounds;
    std::deque<Series> series;
    std::map<std::string, size_t> index;  // rendered labels → position in `series`
  };
  Series& find_or_add(std::string_view name, std::string_view help, Type type,
                      std::vector<double> bounds, const Labels& labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::deque<Series> detached_;  // series for invalid registrations (see above)
};

// Shortest text that reads back as `v`; "+Inf", "-Inf", "NaN" as Prometheus spells them.
std::string format_metric_value(double v);

}  // namespace shuo::api::http
