// Step: the era and the size of its effects; a 1.x WriteEraInfo transform gives the era's rewards.

#include <cstring>

#include "parser_internal.hpp"

namespace ces::model::detail {
namespace {

// "era-<n>" -> n.
std::optional<std::int64_t> EraKey(std::string_view key) {
  constexpr std::string_view kPrefix = "era-";
  if (key.substr(0, kPrefix.size()) != kPrefix || key.size() == kPrefix.size() || key.size() > kPrefix.size() + 18) {
    return std::nullopt;
  }
  std::int64_t n = 0;
  for (char c : key.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// 1.x Step transforms: counts them and reads the WriteEraInfo transform(s) (key "era-<n>"): the
// era's seigniorage allocations in motes, as reward rows (source "step") and era n marked complete.
// Every other transform is skipped by the On Demand iterator without being materialised.
std::size_t StepTransforms(od::value& v, Rows& out) {
  std::size_t count = 0;
  Elements(v, "Step.execution_effect.transforms", [&](od::value& entry, std::size_t) {
    ++count;
    std::string_view key;
    Rows era_info;
    bool have_era_info = false;
    Fields(entry, "Step.transforms[]", [&](std::string_view k, od::value& x) {
      if (k == "key") {
        key = Str(x, "Step.transforms[].key");
        return;
      }
      if (k != "transform") return;
      od::json_type type;
      if (auto e = x.type().get(type)) Fail("Step.transforms[].transform", "unreadable", e);
      if (type != od::json_type::object) return;  // "Identity", …
      Variant(x, "Step.transforms[].transform", [&](std::string_view variant, od::value& inner) {
        if (variant != "WriteEraInfo") return;
        have_era_info = true;
        Fields(inner, "WriteEraInfo", [&](std::string_view f, od::value& allocations) {
          if (f != "seigniorage_allocations") return;
          // The era is only known from the key; rows get it below.
          Allocations(allocations, "WriteEraInfo.seigniorage_allocations", 0, "step", std::nullopt, true, era_info);
        });
      });
    });
    if (!have_era_info) return;
    std::optional<std::int64_t> era_id = EraKey(key);
    if (!era_id) Fail("Step.transforms[]", "WriteEraInfo at a key other than era-<n>");
    for (auto& r : era_info.validator_rewards) r.era_id = *era_id;
    for (auto& r : era_info.delegator_rewards) r.era_id = *era_id;
    EraRow era;
    era.era_id = *era_id;
    era.rewards_status = RewardsStatus::kComplete;
    era.rewards_source = "step";
    era.delegator_rewards_status = RewardsStatus::kComplete;
    out.eras.push_back(std::move(era));
    out.Append(std::move(era_info));
  });
  return count;
}

// 2.x execution_effects: [{key, kind}], counted and measured, not materialised.
void StepEffectsV2(od::value& val, StepRow& row) {
  od::array array;
  if (auto e = val.get_array().get(array)) Fail("Step.execution_effects", "expected an array", e);
  std::size_t count = 0;
  if (auto e = array.count_elements().get(count)) Fail("Step.execution_effects", "malformed array", e);
  std::string_view raw;
  if (auto e = array.raw_json().get(raw)) Fail("Step.execution_effects", "malformed array", e);
  row.format = 2;
  row.effect_count = static_cast<std::int64_t>(count);
  row.effect_bytes = static_cast<std::int64_t>(raw.size());
}

// 1.x execution_effect: {operations, transforms}, measured; its transforms counted, and walked only
// when one of them is a WriteEraInfo.
void StepEffectV1(od::value& val, StepRow& row, Rows& out) {
  od::object object;
  if (auto e = val.get_object().get(object)) Fail("Step.execution_effect", "expected an object", e);
  std::string_view raw;
  if (auto e = object.raw_json().get(raw)) Fail("Step.execution_effect", "malformed object", e);
  if (auto e = object.reset().error()) Fail("Step.execution_effect", "malformed object", e);
  // Targeted scan: only a Step that names WriteEraInfo has its transforms walked one by one;
  // the others are just counted (the common case costs a memchr-speed search).
  constexpr std::string_view kEraInfo = "\"WriteEraInfo\"";
  const bool has_era_info = ::memmem(raw.data(), raw.size(), kEraInfo.data(), kEraInfo.size()) != nullptr;
  std::size_t count = 0;
  bool have_transforms = false;
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) Fail("Step.execution_effect", "malformed object", e);
    std::string_view k;
    if (auto e = field.unescaped_key().get(k)) Fail("Step.execution_effect", "malformed key", e);
    if (k != "transforms") continue;
    if (have_transforms) Fail("Step.execution_effect", "duplicate transforms");
    if (has_era_info) {
      od::value transforms = field.value();
      count = StepTransforms(transforms, out);
    } else {
      od::array transforms;
      if (auto e = field.value().get_array().get(transforms)) {
        Fail("Step.execution_effect.transforms", "expected an array", e);
      }
      if (auto e = transforms.count_elements().get(count)) {
        Fail("Step.execution_effect.transforms", "malformed array", e);
      }
    }
    have_transforms = true;
  }
  if (!have_transforms) Fail("Step.execution_effect", "missing transforms");
  row.format = 1;
  row.effect_count = static_cast<std::int64_t>(count);
  row.effect_bytes = static_cast<std::int64_t>(raw.size());
}

}  // namespace

// Step: the era and the size of its effects, which are skipped, not materialised, except for a 1.x
// WriteEraInfo transform (the era's rewards in motes).
void Step(od::value& v, Rows& out) {
  StepRow row;
  bool have_era = false, have_effects = false;
  Fields(v, "Step", [&](std::string_view key, od::value& val) {
    if (key == "era_id") {
      row.era_id = Int64(val, "Step.era_id");
      have_era = true;
    } else if (key == "execution_effects") {  // 2.x: [{key, kind}]
      StepEffectsV2(val, row);
      have_effects = true;
    } else if (key == "execution_effect") {  // 1.x: {operations, transforms}
      StepEffectV1(val, row, out);
      have_effects = true;
    }
  });
  if (!have_era || !have_effects) Fail("Step", "missing era_id/execution_effect(s)");
  out.steps.push_back(std::move(row));
}

}  // namespace ces::model::detail
