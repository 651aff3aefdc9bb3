// A job as the REST API shows it (docs/rest.md): its summary, its graph
// with the vertices' metrics, a vertex's subtasks, the checkpoint history,
// the exceptions that ended attempts, and the micro-batch progress.
//
// Threading: called under the job manager's lock.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace sluice {

class ClusterJob;

nlohmann::json job_summary_json(const ClusterJob& job);
nlohmann::json job_detail_json(const ClusterJob& job);
// Null when the job has no vertex `vertex_id`.
std::optional<nlohmann::json> vertex_json(const ClusterJob& job, const std::string& vertex_id);
nlohmann::json checkpoints_json(const ClusterJob& job);
nlohmann::json exceptions_json(const ClusterJob& job);
nlohmann::json batches_json(const ClusterJob& job);

}  // namespace sluice
