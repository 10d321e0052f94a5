#include <gtest/gtest.h>

#include "ces/common/metrics.hpp"

namespace ces::metrics {
namespace {

TEST(Metrics, RendersPrometheusText) {
  Registry r;
  r.GetCounter("x_total", "Things", {{"node", "http://a:1"}}).Inc(3);
  r.GetGauge("y", "Level").Set(2.5);
  auto& h = r.GetHistogram("z_seconds", "Latency", {}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  const std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE x_total counter\nx_total{node=\"http://a:1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("y 2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("z_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("z_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("z_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("z_seconds_count 3\n"), std::string::npos) << text;
}

TEST(Metrics, SameNameAndLabelsIsTheSameSeries) {
  Registry r;
  r.GetCounter("c", "h", {{"a", "1"}}).Inc();
  r.GetCounter("c", "h", {{"a", "1"}}).Inc();
  EXPECT_EQ(r.GetCounter("c", "h", {{"a", "1"}}).Value(), 2u);
  EXPECT_THROW(r.GetGauge("c", "h"), std::logic_error);
}

TEST(Metrics, EscapesLabelValues) {
  Registry r;
  r.GetCounter("c", "h", {{"a", "x\"y\\z"}}).Inc();
  EXPECT_NE(r.Render().find("c{a=\"x\\\"y\\\\z\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace ces::metrics
