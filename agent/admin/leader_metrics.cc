#include <sstream>

#include "agent/admin/metrics.h"
#include "agent/admin/prom_text.h"

namespace xgate::admin {

std::string RenderLeaderStatusMetrics(const LeaderStatusMetrics& m) {
  std::ostringstream out;
  MetricHeader(out, "xgate_agent_lease_holder", "gauge",
               "1 when this agent holds the status-writer Lease (only the holder writes status).");
  out << "xgate_agent_lease_holder " << (m.lease_holder ? 1 : 0) << "\n";
  MetricHeader(out, "xgate_agent_leader_transitions_total", "counter",
               "Times this agent started or stopped holding the status-writer Lease.");
  out << "xgate_agent_leader_transitions_total " << m.leader_transitions << "\n";
  const std::string name = "xgate_agent_status_writes_total";
  MetricHeader(out, name, "counter",
               "Status writes to the API server by result: ok, conflict (409, read again and "
               "retried), error, skipped_unchanged (the server already had it).");
  out << name << "{result=\"ok\"} " << m.status_writes_ok << "\n"
      << name << "{result=\"conflict\"} " << m.status_writes_conflict << "\n"
      << name << "{result=\"error\"} " << m.status_writes_error << "\n"
      << name << "{result=\"skipped_unchanged\"} " << m.status_writes_skipped_unchanged << "\n";
  const std::string reads = "xgate_agent_status_reads_total";
  MetricHeader(out, reads, "counter",
               "Objects the status writer read before writing, by how: list (a sweep's paged "
               "LIST of each route kind answered it) or get (one GET).");
  out << reads << "{how=\"list\"} " << m.status_reads_list << "\n"
      << reads << "{how=\"get\"} " << m.status_reads_get << "\n";
  MetricHeader(out, "xgate_agent_status_list_pages_total", "counter",
               "LIST pages the status writer's sweeps read.");
  out << "xgate_agent_status_list_pages_total " << m.status_list_pages << "\n";
  MetricHeader(out, "xgate_agent_status_list_errors_total", "counter",
               "Sweep LISTs that failed (their kind's routes were read one by one instead).");
  out << "xgate_agent_status_list_errors_total " << m.status_list_errors << "\n";
  return out.str();
}

}  // namespace xgate::admin
