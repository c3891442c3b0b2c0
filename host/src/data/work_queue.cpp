#include "data/work_queue.hpp"

#include "common/digest.hpp"

namespace atlas::data {

std::string content_task_id(std::string_view task, std::string_view metadata_json, std::string_view expected_json) {
  std::string material;
  material.reserve(task.size() + metadata_json.size() + expected_json.size() + 2);
  material.append(task).append(1, '\n').append(metadata_json).append(1, '\n').append(expected_json);
  return "t-" + sha256_hex(material).substr(0, 32);
}

Result<json::Document> queue_call(Store& store, std::string_view op, std::string_view request_json) {
  auto answer = store.execute(op, request_json);
  if (!answer) return answer.status();
  auto doc = json::parse(*answer, std::string(op) + " answer");
  if (!doc) return doc.status();
  if (!doc->IsObject())
    return Status(StatusCode::kInternal, std::string(op) + ": the storage plugin answered a non-object");
  return std::move(*doc);
}

Result<QueueCounts> queue_counts(Store& store) {
  auto doc = queue_call(store, "queue_status", "{}");
  if (!doc) return doc.status();
  QueueCounts out;
  if (const json::Value* c = json::find(*doc, "counts"); c && c->IsObject()) {
    for (auto& m : c->GetObject())
      if (m.value.IsInt64()) out.by_state[m.name.GetString()] = m.value.GetInt64();
  }
  if (const json::Value* a = json::find(*doc, "oldest_pending_age_ms"); a && a->IsNumber())
    out.oldest_pending_age_seconds = a->GetDouble() / 1000.0;
  return out;
}

}  // namespace atlas::data
