// Prometheus registry: series storage, label escaping and the text exposition format.
#include "api/http/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace shuo::api::http {
namespace {

bool valid_name(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

std::string render_labels(const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first;
    out += "=\"";
    append_escaped(out, labels[i].second, true);
    out += '"';
  }
  if (!le.empty()) {
    if (!labels.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
  return out;
}

std::vector<double> clean_bounds(std::vector<double> b) {
  b.erase(std::remove_if(b.begin(), b.end(), [](double x) { return !std::isfinite(x); }), b.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

}  // namespace

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void Counter::inc(double amount) {
  if (!(amount >= 0)) return;  // also rejects NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(clean_bounds(std::move(bounds))),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // First bucket whose upper bound is >= v (Prometheus buckets are "less or equal").
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  // Count is derived from the buckets so that +Inf and _count always agree in one scrape.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::Series& Metrics::find_or_add(std::string_view name, std::string_view help, Type type,
                                      std::vector<double> bounds, const Labels& labels) {
  auto make = [&](Series& s) {
    switch (type) {
      case Type::kCounter: s.counter = std::make_unique<Counter>(); break;
      case Type::kGauge: s.gauge = std::make_unique<Gauge>(); break;
      case Type::kHistogram: s.histogram = std::make_unique<Histogram>(bounds); break;
    }
    return std::ref(s);
  };
  std::lock_guard lock(mu_);
  bool ok = valid_name(name, true);
  for (const auto& [k, v] : labels) {
    if (!valid_name(k, false) || k.starts_with("__") || (type == Type::kHistogram && k == "le")) {
      ok = false;
    }
  }
  Family* fam = nullptr;
  if (ok) {
    for (auto& f : families_) {
      if (f->name == name) {
        fam = f.get();
        break;
      }
    }
    if (fam && fam->type != type) ok = false;
  }
  if (!ok) return make(detached_.emplace_back()).get();

  if (!fam) {
    families_.push_back(std::make_unique<Family>());
    fam = families_.back().get();
    fam->name = std::string(name);
    fam->help = std::string(help);
    fam->type = type;
    fam->bounds = clean_bounds(bounds);
  }
  std::string key = render_labels(labels);
  if (auto it = fam->index.find(key); it != fam->index.end()) return fam->series[it->second];
  bounds = fam->bounds;  // every series of a family shares the first registration's buckets
  Series& s = fam->series.emplace_back();
  s.labels = labels;
  fam->index.emplace(std::move(key), fam->series.size() - 1);
  return make(s).get();
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
  return *find_or_add(name, help, Type::kCounter, {}, labels).counter;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return *find_or_add(name, help, Type::kGauge, {}, labels).gauge;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help,
                              std::vector<double> bounds, const Labels& labels) {
  return *find_or_add(name, help, Type::kHistogram, std::move(bounds), labels).histogram;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP ";
    out += f->name;
    out += ' ';
    append_escaped(out, f->help, false);
    out += "\n# TYPE ";
    out += f->name;
    out += f->type == Type::kCounter ? " counter\n" : f->type == Type::kGauge ? " gauge\n"
                                                                               : " histogram\n";
    for (const Series& s : f->series) {
      if (f->type != Type::kHistogram) {
        double v = s.counter ? s.counter->value() : s.gauge->value();
        out += f->name + render_labels(s.labels) + ' ' + format_metric_value(v) + '\n';
        continue;
      }
      Histogram::Snapshot snap = s.histogram->snapshot();
      for (size_t i = 0; i <= snap.bounds.size(); ++i) {
        std::string le = i < snap.bounds.size() ? format_metric_value(snap.bounds[i]) : "+Inf";
        out += f->name + "_bucket" + render_labels(s.labels, le) + ' ' +
               std::to_string(snap.cumulative[i]) + '\n';
      }
      out += f->name + "_sum" + render_labels(s.labels) + ' ' + format_metric_value(snap.sum) + '\n';
      out += f->name + "_count" + render_labels(s.labels) + ' ' + std::to_string(snap.count) + '\n';
    }
  }
  return out;
}

std::vector<double> Metrics::exponential_buckets(double start, double factor, int count) {
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

}  // namespace shuo::api::http
