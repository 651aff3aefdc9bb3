// Turns a job graph into runnable tasks: resolves parallelism and default
// partitioning, chains operators joined by forward edges of equal
// parallelism (the downstream operator having that single input), creates
// one channel per (producer subtask, consumer subtask) of every other edge,
// and builds one Task per chain and subtask.
//
// Placement: a job runs in slots, and slot i runs subtask i of every chain
// (Flink's slot sharing), so a job needs as many slots as its largest
// parallelism. On a cluster every task manager builds the same plan and
// instantiates only the tasks of its own slots; a channel with one end
// elsewhere goes to the data plane (runtime/network/remote_channels.h).
// Every process numbers the tasks the same way, which is how the job
// manager's checkpoint coordinator addresses them.
//
// Threading: runs on the submitting thread before any task starts.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/graph/job_graph.h"
#include "runtime/network/remote_channels.h"
#include "runtime/task/task.h"
#include "runtime/time/watermark_alignment.h"

namespace sluice {

// Which slots run here. The default runs every task in this process.
struct Placement {
  std::vector<std::string> slot_owner;      // per slot, its task manager; empty: all here
  std::string self;                         // this task manager
  RemoteChannelRegistry* remote = nullptr;  // required when some slot is elsewhere
  uint32_t job_number = 0;
  uint32_t attempt = 0;
  bool nowhere = false;  // lay the job out without building any task (the job manager)

  bool runs_here(int subtask) const {
    if (nowhere) return false;
    return slot_owner.empty() || slot_owner.at(static_cast<size_t>(subtask)) == self;
  }
};

struct PlanOptions {
  std::string job_name = "job";
  int parallelism = 1;
  int max_parallelism = kDefaultMaxParallelism;
  // How keys map to key groups: hash_bytes, or the format-1 hash for a job
  // restored from a checkpoint of that format (set from its metadata).
  KeyHashing key_hashing = KeyHashing::kXxh3;
  size_t channel_capacity = 8;       // batches per channel
  StateBackendConfig state_backend;  // memory unless set
  // State to resume from, by operator name (null: a fresh start).
  const std::map<std::string, OperatorRestore>* restore = nullptr;
  Placement placement;
  // Micro-batch mode: sources read the slices batches hand them. It must match the checkpoint
  // configuration's `batches.enabled`; run_local and the cluster's run options derive it from
  // there.
  bool micro_batch = false;
  // Unaligned checkpoints (runtime/task/task.h); needs codecs on every edge.
  bool unaligned_checkpoints = false;
  // Watermark alignment (runtime/time/watermark_alignment.h): the largest
  // lead of a source's watermark over the slowest one's; 0: off.
  DurationMs watermark_alignment = 0;
  // Buffer debloating (runtime/network/buffer_debloat.h): about how much
  // data, in time, a channel holds; 0: off, channel_capacity alone.
  DurationMs buffer_debloat_target = 0;
};

// One vertex of the job: an operator chain, run by `parallelism` tasks.
struct PlannedVertex {
  std::string name;  // its operators' names joined by " -> "
  std::vector<std::string> operators;
  int parallelism = 1;
  bool is_source = false;
};

// Records flow from one vertex to another through channels partitioned so.
struct PlannedEdge {
  size_t from = 0;  // vertex indexes
  size_t to = 0;
  Partitioning partitioning = Partitioning::kForward;
};

// One task of the job, wherever it runs.
struct PlannedTask {
  std::string chain;
  size_t vertex = 0;  // index in ExecutionPlan::vertices
  int subtask = 0;
  bool is_source = false;
  std::string source;  // a source task: the name of its source operator
};

struct ExecutionPlan {
  // The sources of the job's tasks here, when aligned; outlives the tasks.
  std::unique_ptr<WatermarkAlignmentGroup> watermark_alignment;
  std::vector<std::unique_ptr<ChannelBase>> channels;
  std::vector<std::unique_ptr<Task>> tasks;  // the tasks placed here
  std::vector<size_t> task_index;            // of tasks[i] among all_tasks
  std::vector<PlannedTask> all_tasks;        // the whole job, in a fixed order
  int slots = 1;                             // the job's largest parallelism
  // Human-readable description of the chains, for logs and tests.
  std::vector<std::string> chains;
  // The job graph as tasks see it: chains and the edges between them.
  std::vector<PlannedVertex> vertices;  // vertices[i].name == chains[i]
  std::vector<PlannedEdge> edges;
};

// Throws UsageError for an invalid graph (bad parallelism, forward edge
// between different parallelisms, no source) or a placement with fewer
// slots than the job needs.
ExecutionPlan build_execution_plan(const JobGraph& graph, const PlanOptions& options,
                                   JobControl& control, JobMetrics& metrics, const Clock& clock);

}  // namespace sluice
