// The agent's record of the proxy's listen reports: what becomes PortUnavailable, when a
// report changes the status (and so triggers a reload), the failed attempts counted once,
// and the metrics rendered from it.
#include "agent/l7/listen_reports.h"

#include <gtest/gtest.h>

#include "agent/admin/metrics.h"

namespace xgate::l7 {
namespace {

api::ListenReport Report(const std::string& proxy, bool bound, uint64_t failures) {
  api::ListenReport r;
  r.set_proxy_id(proxy);
  auto* taken = r.add_results();
  taken->set_address("198.18.0.1");
  taken->set_port(80);
  taken->set_bound(bound);
  taken->set_failures(failures);
  if (!bound) taken->set_error("bind 198.18.0.1:80: Address already in use");
  auto* steered = r.add_results();
  steered->set_address("198.18.100.30");
  steered->set_port(443);
  steered->set_steered(true);
  steered->set_bound(true);
  return r;
}

TEST(ListenReports, OnlyAStatusChangeCountsAsAChange) {
  ListenReports reports;
  EXPECT_FALSE(reports.Update(Report("pid 1", true, 0)));  // nothing unavailable, as before
  EXPECT_EQ(reports.version(), 0u);

  EXPECT_TRUE(reports.Update(Report("pid 1", false, 1)));
  EXPECT_EQ(reports.version(), 1u);
  EXPECT_EQ(reports.Unavailable(),
            (UnavailablePorts{{{"198.18.0.1", 80}, "bind 198.18.0.1:80: Address already in use"}}));
  // Another failed retry: counted, but the status stays (no reload).
  EXPECT_FALSE(reports.Update(Report("pid 1", false, 2)));
  EXPECT_EQ(reports.version(), 1u);
  EXPECT_EQ(reports.WaitChange(0, std::chrono::milliseconds(0)), 1u);

  EXPECT_TRUE(reports.Update(Report("pid 1", true, 2)));
  EXPECT_TRUE(reports.Unavailable().empty());
  EXPECT_EQ(reports.failures_total(), 2u);
  // A new proxy counts from zero again: its failures add up.
  reports.Update(Report("pid 2", false, 1));
  EXPECT_EQ(reports.failures_total(), 3u);
}

TEST(ListenReports, Metrics) {
  ListenReports reports;
  reports.Update(Report("pid 1", false, 4));
  std::string text = admin::RenderListenMetrics(reports);
  EXPECT_NE(text.find("xgate_listen_up{address=\"198.18.0.1\",port=\"80\",mode=\"bound\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("xgate_listen_up{address=\"198.18.100.30\",port=\"443\",mode=\"steered\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("xgate_listen_failures_total 4\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace xgate::l7
