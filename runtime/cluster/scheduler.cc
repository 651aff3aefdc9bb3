#include "runtime/cluster/scheduler.h"

namespace sluice {

std::vector<std::string> place_slots(int needed, std::vector<SlotOffer> offers) {
  int available = 0;
  for (const SlotOffer& offer : offers) available += offer.free_slots;
  if (available < needed) return {};
  std::vector<std::string> owners;
  owners.reserve(static_cast<size_t>(needed));
  for (int slot = 0; slot < needed; ++slot) {
    SlotOffer* best = nullptr;
    for (SlotOffer& offer : offers) {
      if (offer.free_slots > 0 && (best == nullptr || offer.free_slots > best->free_slots)) {
        best = &offer;
      }
    }
    owners.push_back(best->task_manager);
    --best->free_slots;
  }
  return owners;
}

}  // namespace sluice
