// Whether a reload changed anything a data plane or a reader of status would see.
#pragma once

#include "agent/binder/binder.h"
#include "agent/model/loader.h"

namespace xgate::pipeline {

// True when both loads hold the same objects as status::ObjectList renders them (the stored
// object, its name, namespace, generation and creation time), the same statuses and the
// same refused documents. Compares in place: nothing is rendered or serialized.
bool SameState(const model::LoadResult& a, const binder::Statuses& a_statuses,
               const model::LoadResult& b, const binder::Statuses& b_statuses);

}  // namespace xgate::pipeline
