// Slot placement. A job needs one slot per subtask index of its widest
// operator (slot i runs subtask i of every chain). Slots are spread over
// task managers: each goes to the task manager with the most free slots
// left, ties broken by the order of the offers, so a job of parallelism 4
// on two task managers of two free slots each runs two subtasks on each.
//
// Threading: pure function.
#pragma once

#include <string>
#include <vector>

namespace sluice {

struct SlotOffer {
  std::string task_manager;
  int free_slots = 0;
};

// The owner of each of `needed` slots, or empty when there are too few.
std::vector<std::string> place_slots(int needed, std::vector<SlotOffer> offers);

}  // namespace sluice
