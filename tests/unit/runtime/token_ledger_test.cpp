// Cost accounting: each call priced with its role's model block; an unknown price or an
// unreported usage is unknown (null), never 0.
#include "runtime/token_ledger.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace atlas::runtime {
namespace {

config::ModelConfig priced(double input_per_mtok, double output_per_mtok) {
  config::ModelConfig m;
  m.model = "priced-model";
  m.input_cost_per_mtok = input_per_mtok;
  m.output_cost_per_mtok = output_per_mtok;
  return m;
}

TEST(TokenLedgerCost, PricesEachCallWithItsRolesModel) {
  TokenLedger ledger({{"teacher", llm::TokenPrice{2.0, 8.0}}});
  auto cost = ledger.add("teacher", 1000, 500, 1500, 0.1);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(*cost, (1000 * 2.0 + 500 * 8.0) / 1e6);
  ledger.add("teacher", 2000, 0, 2000, 0.1);
  auto doc = json::parse(ledger.to_json());
  ASSERT_TRUE(doc.is_ok());
  EXPECT_DOUBLE_EQ((*doc)["by_role"]["teacher"]["cost_usd"].GetDouble(), (3000 * 2.0 + 500 * 8.0) / 1e6);
  EXPECT_DOUBLE_EQ((*doc)["cost_usd"].GetDouble(), (3000 * 2.0 + 500 * 8.0) / 1e6);
  EXPECT_TRUE((*doc)["unpriced_roles"].Empty());
}

TEST(TokenLedgerCost, ARoleWithoutAPriceMakesTheSessionCostUnknownNotZero) {
  TokenLedger ledger({{"teacher", llm::TokenPrice{2.0, 8.0}}});
  ledger.add("teacher", 1000, 500, 1500, 0.1);
  EXPECT_FALSE(ledger.add("judge", 300, 20, 320, 0.1).has_value());
  auto doc = json::parse(ledger.to_json());
  ASSERT_TRUE(doc.is_ok());
  EXPECT_TRUE((*doc)["cost_usd"].IsNull());
  EXPECT_TRUE((*doc)["by_role"]["judge"]["cost_usd"].IsNull());
  EXPECT_TRUE((*doc)["by_role"]["teacher"]["cost_usd"].IsNumber());
  ASSERT_EQ((*doc)["unpriced_roles"].Size(), 1u);
  EXPECT_EQ(std::string((*doc)["unpriced_roles"][0].GetString()), "judge");
}

TEST(TokenLedgerCost, OnlyOneOfTheTwoPricesIsNotAPrice) {
  TokenLedger ledger({{"student", llm::TokenPrice{2.0, std::nullopt}}});
  EXPECT_FALSE(ledger.add("student", 10, 10, 20, 0.0).has_value());
}

TEST(TokenLedgerCost, AReplyWithoutUsageIsUnknownAFailedCallWithoutUsageIsFree) {
  TokenLedger ledger({{"student", llm::TokenPrice{1.0, 1.0}}, {"teacher", llm::TokenPrice{1.0, 1.0}}});
  EXPECT_FALSE(ledger.add("student", 0, 0, 0, 0.0).has_value());  // an adapter that reports no usage
  auto failed = ledger.add("teacher", 0, 0, 0, 0.0, /*ok=*/false);
  ASSERT_TRUE(failed.has_value());
  EXPECT_DOUBLE_EQ(*failed, 0.0);
  EXPECT_FALSE(ledger.total().cost_usd().has_value());
  ASSERT_TRUE(ledger.by_role().at("teacher").cost_usd().has_value());
}

TEST(TokenLedgerCost, ANewLedgerWithoutPricesKnowsNoCost) {
  TokenLedger ledger;
  EXPECT_FALSE(ledger.add("teacher", 10, 10, 20, 0.0).has_value());
  auto doc = json::parse(ledger.to_json());
  ASSERT_TRUE(doc.is_ok());
  EXPECT_TRUE((*doc)["cost_usd"].IsNull());
}

TEST(TokenLedgerCost, RolesBillToTheirModelBlocks) {
  config::Config c;
  c.student.llm = priced(0.5, 1.5);
  c.teacher.llm = priced(3.0, 15.0);
  c.rewards.small_model = priced(0.1, 0.4);
  c.rewards.large_model = config::ModelConfig{};  // absent: the arbiter bills the small model
  c.learning.llm = priced(1.0, 2.0);
  c.routing.probe_llm = priced(0.2, 0.2);
  auto prices = prices_by_role(c);
  EXPECT_EQ(prices.at("student").input_per_mtok, 0.5);
  EXPECT_EQ(prices.at("teacher").output_per_mtok, 15.0);
  EXPECT_EQ(prices.at("judge").input_per_mtok, 0.1);
  EXPECT_EQ(prices.at("arbiter").output_per_mtok, 0.4);
  EXPECT_EQ(prices.at("learning").input_per_mtok, 1.0);
  EXPECT_EQ(prices.at("probe").input_per_mtok, 0.2);
  c.teacher.llm.input_cost_per_mtok.reset();
  EXPECT_FALSE(prices_by_role(c).at("teacher").known());
  c.student.llm = config::ModelConfig{};  // a command agent: no student model, no price
  EXPECT_EQ(prices_by_role(c).count("student"), 0u);
}

}  // namespace
}  // namespace atlas::runtime
