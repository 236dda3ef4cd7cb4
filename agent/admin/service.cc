#include "agent/admin/service.h"

#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "agent/inspect/explain_packet.h"
#include "agent/inspect/explain_request.h"
#include "agent/inspect/l4_maps.h"
#include "agent/l7/proxy_stats_client.h"
#include "agent/sources/folder_edit.h"
#include "agent/status/status.h"
#include "spdlog/spdlog.h"

namespace xgate::admin {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case absl::StatusCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case absl::StatusCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case absl::StatusCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case absl::StatusCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    default:
      break;
  }
  return grpc::Status(code, std::string(s.message()));
}

std::string Name(const std::string& filename) { return filename.empty() ? "<apply>" : filename; }

// The pinned fast path maps, or why they cannot be read.
absl::StatusOr<std::unique_ptr<inspect::L4Maps>> OpenL4(const AdminOptions& options) {
  if (options.l4_pin_root.empty()) {
    return absl::FailedPreconditionError(
        "the agent runs without --attach: this node has no kernel fast path, so no connection "
        "table or counters");
  }
  auto maps = inspect::L4Maps::Open(options.l4_pin_root);
  if (!maps.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the fast path maps under ", options.l4_pin_root,
                     " cannot be read: ", maps.status().message()));
  }
  return maps;
}

}  // namespace

grpc::Status AdminService::GetState(grpc::ServerContext*, const api::GetStateRequest*,
                                    api::GetStateResponse* response) {
  auto state = pipeline_.Current();
  absl::Status last = pipeline_.LastError();
  if (!last.ok()) response->set_last_error(std::string(last.message()));
  if (state == nullptr) {
    response->set_objects_json(status::ObjectList(model::Store{}, binder::Statuses{}).dump());
    return grpc::Status::OK;
  }
  response->set_objects_json(status::ObjectList(state->loaded.store, state->bound.statuses).dump());
  response->set_summary(status::Summary(state->loaded.store, state->bound, state->loaded.errors));
  response->set_generation(state->generation);
  response->set_applied_at(state->applied_at);
  for (const auto& e : state->loaded.errors) response->add_load_errors(e.ToString());
  return grpc::Status::OK;
}

grpc::Status AdminService::Apply(grpc::ServerContext*, const api::ApplyRequest* request,
                                 api::ApplyResponse* response) {
  if (options_.folder == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kKubernetesModeEdit);
  }
  std::lock_guard lock(edit_mu_);
  auto change = sources::ApplyManifest(options_.folder->dir(), request->manifest(),
                                       Name(request->filename()));
  if (!change.ok()) {
    spdlog::warn("admin apply refused: {}", std::string(change.status().message()));
    return ToGrpc(change.status());
  }
  for (const auto& o : change->changed) {
    spdlog::info("admin apply: {}", o);
    response->add_objects(o);
  }
  absl::Status applied = options_.folder->Sync();
  if (applied.ok()) applied = pipeline_.Reload();
  if (!applied.ok()) response->set_last_error(std::string(applied.message()));
  if (auto state = pipeline_.Current()) response->set_generation(state->generation);
  return grpc::Status::OK;
}

grpc::Status AdminService::Delete(grpc::ServerContext*, const api::DeleteRequest* request,
                                  api::DeleteResponse* response) {
  if (options_.folder == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kKubernetesModeEdit);
  }
  std::lock_guard lock(edit_mu_);
  auto change = sources::DeleteManifest(options_.folder->dir(), request->manifest(),
                                        Name(request->filename()));
  if (!change.ok()) {
    spdlog::warn("admin delete refused: {}", std::string(change.status().message()));
    return ToGrpc(change.status());
  }
  for (const auto& o : change->changed) {
    spdlog::info("admin delete: {}", o);
    response->add_deleted(o);
  }
  for (const auto& o : change->not_found) response->add_not_found(o);
  absl::Status applied = options_.folder->Sync();
  if (applied.ok()) applied = pipeline_.Reload();
  if (!applied.ok()) response->set_last_error(std::string(applied.message()));
  if (auto state = pipeline_.Current()) response->set_generation(state->generation);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetSnapshot(grpc::ServerContext*, const api::GetSnapshotRequest*,
                                       api::GetSnapshotResponse* response) {
  auto state = pipeline_.Current();
  if (state == nullptr || state->snapshot == nullptr) return grpc::Status::OK;
  const compiler::Snapshot& snap = *state->snapshot;
  response->set_generation(snap.generation);
  for (const auto& line : snap.Summary()) response->add_summary(line);
  for (const auto& l : snap.l4) {
    auto* view = response->add_l4();
    view->set_gateway(l.gateway);
    view->set_listener(l.listener);
    view->set_route(l.route);
    view->set_address(l.address);
    view->set_port(l.port);
    view->set_protocol(l.protocol == IPPROTO_UDP ? "udp" : "tcp");
    for (const auto& b : l.backends) {
      auto* backend = view->add_backends();
      backend->set_address(b.address);
      backend->set_port(b.port);
      backend->set_weight(b.weight);
      backend->set_service(b.service);
    }
  }
  *response->mutable_l7() = snap.l7;
  // Private keys stay in the agent.
  for (auto& cert : *response->mutable_l7()->mutable_certificates()) cert.clear_key_pem();
  return grpc::Status::OK;
}

}  // namespace xgate::admin

namespace xgate::admin {

grpc::Status AdminService::Explain(grpc::ServerContext*, const api::ExplainRequest* request,
                                   api::ExplainResponse* response) {
  auto state = pipeline_.Current();
  if (state == nullptr || state->snapshot == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no snapshot is applied yet");
  }
  const compiler::Snapshot& snap = *state->snapshot;
  response->set_generation(snap.generation);
  switch (request->probe_case()) {
    case api::ExplainRequest::kRequest: {
      auto out = inspect::ExplainRequest(snap.l7, request->request());
      if (!out.ok()) return ToGrpc(out.status());
      *response->mutable_request() = *std::move(out);
      return grpc::Status::OK;
    }
    case api::ExplainRequest::kPacket: {
      std::unique_ptr<inspect::L4Maps> kernel;
      if (!options_.l4_pin_root.empty()) {
        auto maps = OpenL4(options_);
        if (!maps.ok()) return ToGrpc(maps.status());
        kernel = *std::move(maps);
      }
      auto out = inspect::ExplainPacket(snap, request->packet(), kernel.get());
      if (!out.ok()) return ToGrpc(out.status());
      *response->mutable_packet() = *std::move(out);
      return grpc::Status::OK;
    }
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "explain needs a request or a packet to explain");
  }
}

grpc::Status AdminService::GetConntrack(grpc::ServerContext*,
                                        const api::GetConntrackRequest* request,
                                        api::GetConntrackResponse* response) {
  auto maps = OpenL4(options_);
  if (!maps.ok()) return ToGrpc(maps.status());
  auto state = pipeline_.Current();
  const compiler::Snapshot* snap = state ? state->snapshot.get() : nullptr;
  auto page = inspect::ReadConntrack(**maps, snap, request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpc(page.status());
  *response = *std::move(page);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetCounters(grpc::ServerContext*, const api::GetCountersRequest*,
                                       api::GetCountersResponse* response) {
  absl::Status fastpath = absl::OkStatus();
  if (auto maps = OpenL4(options_); maps.ok()) {
    auto state = pipeline_.Current();
    const compiler::Snapshot* snap = state ? state->snapshot.get() : nullptr;
    auto counters = inspect::ReadCounters(**maps, snap);
    if (counters.ok()) {
      *response = *std::move(counters);
    } else {
      fastpath = counters.status();
    }
  } else {
    fastpath = maps.status();
  }
  absl::Status proxy = absl::UnavailableError("the agent does not run a proxy");
  if (!options_.proxy_stats_socket.empty()) {
    auto stats = l7::FetchProxyStats(options_.proxy_stats_socket);
    if (stats.ok()) {
      *response->mutable_proxy() = *std::move(stats);
      proxy = absl::OkStatus();
    } else {
      proxy = stats.status();
    }
  }
  if (!fastpath.ok() && !proxy.ok()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat(fastpath.message(), "; proxy: ", proxy.message()));
  }
  response->set_proxy_up(proxy.ok());
  if (!proxy.ok()) response->set_proxy_error(std::string(proxy.message()));
  if (!fastpath.ok()) response->set_fastpath_error(std::string(fastpath.message()));
  return grpc::Status::OK;
}

}  // namespace xgate::admin

namespace xgate::admin {

grpc::Status AdminService::ReportPodAttachment(grpc::ServerContext*,
                                               const api::ReportPodAttachmentRequest* request,
                                               api::ReportPodAttachmentResponse*) {
  if (options_.pods == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this agent keeps no pod attachments");
  }
  const api::PodAttachment& a = request->has_added() ? request->added() : request->removed();
  if (!cni::ValidNetworkName(a.network()) || !cni::ValidContainerId(a.container_id()) ||
      !cni::ValidIfname(a.ifname())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a pod attachment needs a valid network, container_id and ifname");
  }
  if (request->has_added()) {
    options_.pods->Added(a);
  } else {
    options_.pods->Removed(a);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListPodAttachments(grpc::ServerContext*,
                                              const api::ListPodAttachmentsRequest*,
                                              api::ListPodAttachmentsResponse* response) {
  if (options_.pods == nullptr) return grpc::Status::OK;
  for (auto& a : options_.pods->List()) *response->add_attachments() = std::move(a);
  if (options_.locality != nullptr) {
    for (const auto& m : options_.locality->Current()) {
      api::LocalityMismatch* out = response->add_mismatches();
      out->set_kind(pods::KindName(m.kind));
      out->set_address(m.address);
      out->set_slice(m.slice);
      out->set_node_name(m.node_name);
    }
  }
  if (options_.pod_datapath == nullptr) return grpc::Status::OK;
  for (const auto& p : options_.pod_datapath->Programmed()) {
    api::ProgrammedPod* out = response->add_programmed();
    out->set_network(p.network);
    out->set_container_id(p.container_id);
    out->set_ifname(p.ifname);
    out->set_host_interface(p.host_ifname);
    out->set_ifindex(static_cast<uint32_t>(p.ifindex));
    if (p.problem.empty()) {
      out->set_pod_mac(pods::MacText(p.pod_mac));
      for (const auto& a : p.addresses) out->add_local_addresses(a);
    }
    out->set_problem(p.problem);
  }
  return grpc::Status::OK;
}

}  // namespace xgate::admin
