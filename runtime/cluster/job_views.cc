#include "runtime/cluster/job_views.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "runtime/cluster/cluster_job.h"

namespace sluice {
namespace {

using nlohmann::json;

json nullable_time(Timestamp at) {
  return at == 0 ? json(nullptr) : json(at);
}

json watermark_json(const std::optional<Timestamp>& watermark) {
  return watermark ? json(*watermark) : json(nullptr);
}

// "2026-01-01T00:00:01.234Z", as Spark's progress objects write times.
std::string iso_time(Timestamp ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03d}Z", text, static_cast<int>(ms % 1000));
}

struct SubtaskFigures {
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  TaskRates rates;
  std::optional<Timestamp> watermark;
  bool reported = false;
};

SubtaskFigures figures_of(const ClusterJob& job, size_t task) {
  SubtaskFigures f;
  auto it = job.task_rates().find(task);
  if (it == job.task_rates().end()) return f;
  f.reported = true;
  f.records_in = it->second.last().records_in;
  f.records_out = it->second.last().records_out;
  f.rates = it->second.rates();
  f.watermark = it->second.last().input_watermark;
  return f;
}

json figures_json(const SubtaskFigures& f) {
  return json{{"records-in", f.records_in},
              {"records-out", f.records_out},
              {"records-in-per-second", f.rates.records_in},
              {"records-out-per-second", f.rates.records_out},
              {"busy-ms-per-second", f.rates.busy_ms},
              {"idle-ms-per-second", f.rates.idle_ms},
              {"backpressured-ms-per-second", f.rates.backpressured_ms},
              {"input-watermark", watermark_json(f.watermark)}};
}

// Sums records and rates over the vertex's subtasks, averages the times
// per second over those reported, and takes the lowest watermark.
SubtaskFigures vertex_figures(const ClusterJob& job, size_t vertex) {
  SubtaskFigures sum;
  int reported = 0;
  const std::vector<PlannedTask>& tasks = job.layout().all_tasks;
  for (size_t t = 0; t < tasks.size(); ++t) {
    if (tasks[t].vertex != vertex) continue;
    SubtaskFigures f = figures_of(job, t);
    if (!f.reported) continue;
    ++reported;
    sum.records_in += f.records_in;
    sum.records_out += f.records_out;
    sum.rates.records_in += f.rates.records_in;
    sum.rates.records_out += f.rates.records_out;
    sum.rates.busy_ms += f.rates.busy_ms;
    sum.rates.idle_ms += f.rates.idle_ms;
    sum.rates.backpressured_ms += f.rates.backpressured_ms;
    if (f.watermark) sum.watermark = std::min(sum.watermark.value_or(kMaxTimestamp), *f.watermark);
  }
  if (reported > 0) {
    sum.rates.busy_ms /= reported;
    sum.rates.idle_ms /= reported;
    sum.rates.backpressured_ms /= reported;
  }
  sum.reported = reported > 0;
  return sum;
}

json checkpoint_json(const CheckpointRecord& r) {
  return json{
      {"id", r.id},
      {"status", checkpoint_status_name(r.status)},
      {"final", r.final},
      {"is_savepoint", r.savepoint},
      {"external_path", r.savepoint_path},
      {"trigger_timestamp", r.triggered_at},
      {"end_timestamp", nullable_time(r.ended_at)},
      {"end_to_end_duration", r.ended_at == 0 ? json(nullptr) : json(r.ended_at - r.triggered_at)},
      {"synchronous_duration", r.synchronous_ms},
      {"asynchronous_duration", r.asynchronous_ms},
      {"alignment_duration", r.alignment_ms},
      {"checkpointed_size", r.bytes_written},
      {"state_size", r.bytes_total},
      {"num_acknowledged_subtasks", r.acknowledged},
      {"num_subtasks", r.tasks},
      {"failure_message", r.failure.empty() ? json(nullptr) : json(r.failure)}};
}

json batch_json(const BatchProgress& p, std::optional<Timestamp> previous_commit) {
  double processed = p.total_ms() > 0 ? 1000.0 * static_cast<double>(p.total_rows()) /
                                            static_cast<double>(p.total_ms())
                                      : 0.0;
  // Spark's inputRowsPerSecond: the rows over the time since the last batch.
  double since_last = previous_commit ? static_cast<double>(p.committed_at - *previous_commit) : 0;
  double input = since_last > 0 ? 1000.0 * static_cast<double>(p.total_rows()) / since_last : 0.0;
  json sources = json::array();
  for (const auto& [name, rows] : p.input_rows) {
    json start = json::object();
    json end = json::object();
    for (const auto& [source, slices] : p.slices) {
      if (source != name) continue;
      for (const SplitSlice& slice : slices) {
        start[std::to_string(slice.split)] = slice.start;
        end[std::to_string(slice.split)] = slice.end;
      }
    }
    double share =
        p.total_rows() > 0 ? static_cast<double>(rows) / static_cast<double>(p.total_rows()) : 0;
    sources.push_back(json{{"description", name},
                           {"numInputRows", rows},
                           {"startOffset", start},
                           {"endOffset", end},
                           {"inputRowsPerSecond", input * share},
                           {"processedRowsPerSecond", processed * share}});
  }
  return json{
      {"batchId", p.batch},
      {"timestamp", iso_time(p.committed_at)},
      {"replayed", p.replayed},
      {"numInputRows", p.total_rows()},
      {"inputRowsPerSecond", input},
      {"processedRowsPerSecond", processed},
      {"durationMs",
       {{"queryPlanning", p.planning_ms},
        {"addBatch", p.processing_ms},
        {"walCommit", p.commit_ms},
        {"triggerExecution", p.total_ms()}}},
      {"eventTime", p.watermark ? json{{"watermark", iso_time(*p.watermark)}} : json::object()},
      {"stateOperators", json::array({json{{"memoryUsedBytes", p.state_bytes}}})},
      {"sources", sources}};
}

}  // namespace

json job_summary_json(const ClusterJob& job) {
  Timestamp now = SystemClock::instance().now_ms();
  Timestamp end = job.ended_at() != 0 ? job.ended_at() : now;
  return json{{"id", job.id()},
              {"name", job.spec().topology()},
              {"state", job_state_name(job.state())},
              {"attempt", std::max(job.attempt(), 0)},
              {"restarts", job.restarts()},
              {"start-time", job.submitted_at()},
              {"end-time", nullable_time(job.ended_at())},
              {"duration", end - job.submitted_at()},
              {"parallelism", job.layout().slots},
              {"mode", job.options().checkpoint.batches.enabled ? "micro-batch" : "continuous"},
              {"last-checkpoint", job.last_checkpoint()}};
}

json job_detail_json(const ClusterJob& job) {
  json detail = job_summary_json(job);
  detail["message"] = job.message();
  detail["now"] = SystemClock::instance().now_ms();
  detail["late-records-dropped"] = job.late_dropped();
  detail["records-skipped"] = job.skipped_records();
  json vertices = json::array();
  const ExecutionPlan& layout = job.layout();
  for (size_t v = 0; v < layout.vertices.size(); ++v) {
    const PlannedVertex& vertex = layout.vertices[v];
    vertices.push_back(json{{"id", std::to_string(v)},
                            {"name", vertex.name},
                            {"parallelism", vertex.parallelism},
                            {"operators", vertex.operators},
                            {"source", vertex.is_source},
                            {"metrics", figures_json(vertex_figures(job, v))}});
  }
  json edges = json::array();
  for (const PlannedEdge& e : layout.edges) {
    edges.push_back(json{{"source", std::to_string(e.from)},
                         {"target", std::to_string(e.to)},
                         {"partitioning", partitioning_name(e.partitioning)}});
  }
  detail["vertices"] = vertices;
  detail["edges"] = edges;
  return detail;
}

std::optional<json> vertex_json(const ClusterJob& job, const std::string& vertex_id) {
  const ExecutionPlan& layout = job.layout();
  size_t v = 0;
  try {
    size_t used = 0;
    v = std::stoul(vertex_id, &used);
    if (used != vertex_id.size() || v >= layout.vertices.size()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  json subtasks = json::array();
  for (size_t t = 0; t < layout.all_tasks.size(); ++t) {
    const PlannedTask& task = layout.all_tasks[t];
    if (task.vertex != v) continue;
    json row = figures_json(figures_of(job, t));
    row["subtask"] = task.subtask;
    row["status"] = job.task_status(t);
    row["taskmanager"] = job.task_manager_of(t);
    subtasks.push_back(row);
  }
  const PlannedVertex& vertex = layout.vertices[v];
  return json{{"id", vertex_id},
              {"name", vertex.name},
              {"parallelism", vertex.parallelism},
              {"subtasks", subtasks}};
}

json checkpoints_json(const ClusterJob& job) {
  const CheckpointHistory& history = job.history();
  CheckpointCounts counts = history.counts();
  json latest = json::object();
  auto completed = history.latest(CheckpointStatus::kCompleted);
  auto failed = history.latest(CheckpointStatus::kFailed);
  latest["completed"] = completed ? checkpoint_json(*completed) : json(nullptr);
  latest["failed"] = failed ? checkpoint_json(*failed) : json(nullptr);
  json entries = json::array();
  for (const CheckpointRecord& r : history.checkpoints()) entries.push_back(checkpoint_json(r));
  return json{{"counts",
               {{"completed", counts.completed},
                {"failed", counts.failed},
                {"in_progress", counts.in_progress},
                {"total", counts.completed + counts.failed + counts.in_progress}}},
              {"latest", latest},
              {"history", entries}};
}

json exceptions_json(const ClusterJob& job) {
  json entries = json::array();
  for (const JobException& e : job.exceptions()) {
    entries.push_back(json{{"timestamp", e.at},
                           {"attempt", e.attempt},
                           {"taskmanager", e.task_manager},
                           {"message", e.message},
                           {"kind", error_kind_name(e.kind)}});
  }
  return json{{"exceptions", entries}};
}

json batches_json(const ClusterJob& job) {
  json entries = json::array();
  std::optional<Timestamp> previous;
  for (const BatchProgress& p : job.history().batches()) {
    entries.push_back(batch_json(p, previous));
    previous = p.committed_at;
  }
  return json{{"batches", entries}};
}

}  // namespace sluice
