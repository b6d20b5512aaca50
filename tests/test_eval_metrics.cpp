// The report's metric functions against values worked out by hand on small inputs, and the
// pieces of evaluation that need no model: alpha lists, reply keys and records, the run plan.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "eval/evaluation.h"
#include "eval/metrics.h"

namespace emovec::eval {
namespace {

TEST(EvalMetrics, DistinctNCountsNgramsWithinEachText) {
  // "a b a b" has unigrams a,b,a,b (2 distinct of 4) and bigrams ab,ba,ab (2 of 3);
  // "b c" adds b,c (c new: 3 of 6) and bc (3 of 4). No bigram spans the two texts.
  const std::vector<std::string> texts = {"a b a b", " b\tc\n"};
  EXPECT_DOUBLE_EQ(*distinct_n(texts, 1), 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(*distinct_n(texts, 2), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(*distinct_n(texts, 3), 2.0 / 2.0);  // "a b a", "b a b"
}

TEST(EvalMetrics, DistinctNWithoutNgramsIsUndefined) {
  const std::vector<std::string> none = {"", "   "};
  EXPECT_FALSE(distinct_n(none, 1).has_value());
  const std::vector<std::string> one = {"word"};
  EXPECT_DOUBLE_EQ(*distinct_n(one, 1), 1.0);
  EXPECT_FALSE(distinct_n(one, 2).has_value());
  EXPECT_THROW(distinct_n(one, 0), Error);
}

TEST(EvalMetrics, WhitespaceTokensSplitOnAnyAsciiSpace) {
  EXPECT_EQ(whitespace_tokens("  Hello,\tworld!\r\nok "),
            (std::vector<std::string>{"Hello,", "world!", "ok"}));
  EXPECT_TRUE(whitespace_tokens("").empty());
}

TEST(EvalMetrics, LabelPositionFindsTheFirstMatch) {
  const std::vector<std::string> labels = {"anger", "joy", "neutral", "joy"};
  EXPECT_EQ(label_position(labels, "anger"), std::optional<size_t>(0));
  EXPECT_EQ(label_position(labels, "joy"), std::optional<size_t>(1));
  EXPECT_EQ(label_position(labels, "neutral"), std::optional<size_t>(2));
  EXPECT_FALSE(label_position(labels, "fear").has_value());
  EXPECT_FALSE(label_position({}, "joy").has_value());
}

TEST(EvalMetrics, TopLabelCreditSharesTies) {
  const std::vector<size_t> all = {0, 1, 2};
  EXPECT_DOUBLE_EQ(top_label_credit(std::vector<double>{0.1, 0.7, 0.2}, all, 1), 1.0);
  EXPECT_DOUBLE_EQ(top_label_credit(std::vector<double>{0.1, 0.7, 0.2}, all, 2), 0.0);
  EXPECT_DOUBLE_EQ(top_label_credit(std::vector<double>{0.4, 0.4, 0.2}, all, 0), 0.5);
  EXPECT_DOUBLE_EQ(top_label_credit(std::vector<double>{0, 0, 0}, all, 2), 1.0 / 3.0);
  // Only candidates compete: label 1 is the largest overall but not a candidate.
  const std::vector<size_t> some = {0, 2};
  EXPECT_DOUBLE_EQ(top_label_credit(std::vector<double>{0.1, 0.9, 0.3}, some, 2), 1.0);
  EXPECT_THROW(top_label_credit(std::vector<double>{0.1, 0.9, 0.3}, some, 1), Error);
  EXPECT_THROW(top_label_credit(std::vector<double>{0.1, 0.9}, all, 0), Error);
}

TEST(EvalMetrics, TopLabelTakesTheFirstOfTiedCandidates) {
  const std::vector<size_t> some = {2, 0};
  EXPECT_EQ(top_label(std::vector<double>{0.1, 0.9, 0.3}, some), 2u);
  EXPECT_EQ(top_label(std::vector<double>{0.3, 0.9, 0.3}, some), 2u);  // tie: first candidate
  EXPECT_EQ(top_label(std::vector<double>{0.4, 0.9, 0.3}, some), 0u);
  EXPECT_THROW(top_label(std::vector<double>{0.4}, some), Error);
  EXPECT_THROW(top_label(std::vector<double>{0.4}, std::vector<size_t>{}), Error);
}

TEST(EvalMetrics, LabelAgreementAndCohensKappa) {
  // Worked by hand: a = 0,0,1,1 and b = 0,1,1,1 agree on 3 of 4; chance agreement is
  // 0.5 * 0.25 + 0.5 * 0.75 = 0.5, so kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5.
  const std::vector<size_t> a = {0, 0, 1, 1}, b = {0, 1, 1, 1};
  const Agreement g = label_agreement(a, b, 3);
  EXPECT_EQ(g.texts, 4);
  EXPECT_DOUBLE_EQ(g.observed, 0.75);
  ASSERT_TRUE(g.kappa.has_value());
  EXPECT_DOUBLE_EQ(*g.kappa, 0.5);
  // Opposite answers on a balanced pair: kappa -1.
  EXPECT_DOUBLE_EQ(*label_agreement(std::vector<size_t>{0, 1}, std::vector<size_t>{1, 0}, 2).kappa,
                   -1.0);
  // Both always give the same one label: chance agreement is 1 and kappa is undefined.
  const Agreement same = label_agreement(std::vector<size_t>{2, 2}, std::vector<size_t>{2, 2}, 5);
  EXPECT_DOUBLE_EQ(same.observed, 1.0);
  EXPECT_FALSE(same.kappa.has_value());
  EXPECT_THROW(label_agreement(a, std::vector<size_t>{0}, 3), Error);
  EXPECT_THROW(label_agreement(a, b, 1), Error);
}

TEST(EvalMetrics, ProbabilityAndAbsoluteScores) {
  // Target label 0 among labels {0, 1}: top in the first row, tied in the second, beaten in
  // the third: (1 + 0.5 + 0) / 3. Its mean value: (0.6 + 0.5 + 0.1) / 3.
  const std::vector<std::vector<double>> rows = {{0.6, 0.4}, {0.5, 0.5}, {0.1, 0.9}};
  const std::vector<size_t> candidates = {0, 1};
  EXPECT_DOUBLE_EQ(*probability_score(rows, candidates, 0), 0.5);
  EXPECT_DOUBLE_EQ(*probability_score(rows, candidates, 1), 0.5);
  EXPECT_NEAR(*absolute_score(rows, 0), 0.4, 1e-15);
  EXPECT_NEAR(*absolute_score(rows, 1), 0.6, 1e-15);
  const std::vector<std::vector<double>> empty;
  EXPECT_FALSE(probability_score(empty, candidates, 0).has_value());
  EXPECT_FALSE(absolute_score(empty, 0).has_value());
}

TEST(EvalMetrics, PercentChangeHandlesAZeroBaseline) {
  EXPECT_DOUBLE_EQ(*percent_change(0.5, 0.1), 400.0);
  EXPECT_DOUBLE_EQ(*percent_change(0.01, 0.1), -90.0);
  EXPECT_DOUBLE_EQ(*percent_change(-0.5, -0.25), -100.0);  // relative to |baseline|
  EXPECT_DOUBLE_EQ(*percent_change(0.0, 0.0), 0.0);
  EXPECT_FALSE(percent_change(0.3, 0.0).has_value());
  EXPECT_FALSE(percent_change(std::nullopt, 0.1).has_value());
  EXPECT_FALSE(percent_change(0.1, std::nullopt).has_value());
}

TEST(EvalMetrics, CosineMeanAndPerplexity) {
  const std::vector<float> a = {1, 0, 0};
  const std::vector<float> b = {1, 1, 0};
  EXPECT_NEAR(cosine(a, b), 1 / std::sqrt(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(cosine(a, std::vector<float>{0, 0, 0}), 0.0);
  EXPECT_THROW(cosine(a, std::vector<float>{1, 0}), Error);
  const std::vector<double> v = {1, 2, 6};
  EXPECT_DOUBLE_EQ(*mean(v), 3.0);
  EXPECT_FALSE(mean(std::vector<double>{}).has_value());
  // Two tokens of probability 1/4 and 1/16: exp((ln 4 + ln 16) / 2) = 8.
  EXPECT_NEAR(*pooled_perplexity(std::log(4.0) + std::log(16.0), 2), 8.0, 1e-12);
  EXPECT_FALSE(pooled_perplexity(0, 0).has_value());
}

TEST(EvalSettingsTest, AlphaListsAreCheckedSortedAndHoldZero) {
  EXPECT_EQ(parse_alphas("2,-1,1"), (std::vector<float>{-1, 0, 1, 2}));
  EXPECT_EQ(parse_alphas("0,1.5"), (std::vector<float>{0, 1.5f}));
  EXPECT_THROW(parse_alphas("1,x"), Error);
  EXPECT_THROW(parse_alphas("1,"), Error);
  EXPECT_THROW(parse_alphas("1e3"), Error);
  EXPECT_THROW(parse_alphas("-101"), Error);
  EXPECT_THROW(parse_alphas("nan"), Error);
  EXPECT_THROW(parse_alphas("1,1"), Error);
  EXPECT_THROW(parse_alphas(""), Error);
  EXPECT_EQ(alpha_name(-1), "-1");
  EXPECT_EQ(alpha_name(1.25f), "1.25");
}

TEST(EvalSettingsTest, ThePlanSharesTheUnsteeredReply) {
  EvalSettings s;
  s.emotions = {"joy", "anger"};
  s.alphas = {-1, 0, 2};
  s.query_ids = {7, 3};
  s.queries = {"q7", "q3"};
  const std::vector<ReplyKey> plan = planned_replies(s);
  // Per query: 1 unsteered + 2 prompt baselines + 2 emotions x 2 non-zero alphas.
  ASSERT_EQ(plan.size(), 2u * 7u);
  EXPECT_EQ(plan[0].id(), "7|none");
  EXPECT_EQ(plan[1].id(), "7|prompt|joy");
  EXPECT_EQ(plan[3].id(), "7|steered|joy|-1");
  EXPECT_EQ(plan[6].id(), "7|steered|anger|2");
  EXPECT_EQ(plan[7].id(), "3|none");
}

TEST(EvalSettingsTest, ReplyRecordsRoundTrip) {
  Reply r;
  r.key = {4, "steered", "fear", -1.0f};
  r.text = "It was \"scary\"\n";
  r.tokens = {1, 2, 3};
  r.finish_reason = "length";
  const Reply back = reply_from_json(nlohmann::json::parse(reply_to_json(r).dump()));
  EXPECT_EQ(back.key.id(), r.key.id());
  EXPECT_EQ(back.text, r.text);
  EXPECT_EQ(back.tokens, r.tokens);
  EXPECT_EQ(back.finish_reason, r.finish_reason);
  EXPECT_THROW(reply_from_json(nlohmann::json{{"query", 1}}), Error);
  EXPECT_THROW(reply_from_json(nlohmann::json{{"query", 1},
                                              {"condition", "other"},
                                              {"text", ""},
                                              {"tokens", nlohmann::json::array()},
                                              {"finish_reason", "eos"}}),
               Error);
}

}  // namespace
}  // namespace emovec::eval
