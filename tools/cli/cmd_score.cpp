// emovec score: emotion scores of texts, or each scorer's accuracy on a labelled set.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "emovec/error.h"
#include "eval/calibration.h"
#include "format/text_file.h"
#include "resources.h"
#include "scorer_flags.h"

namespace emovec::cli {
namespace {

struct ScoreFlags {
  std::vector<std::string> texts;
  std::string file;
  std::string labelled;
  bool calibrate = false;
  std::string scorers = "nade";
  int threads = 0;
  bool json = false;
};

// One text per line, or, for a file named *.json, a JSON list of strings (texts with newlines).
std::vector<std::string> read_texts(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<std::string> out;
  if (path.ends_with(".json")) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) throw Error(path + ": not a JSON list of texts");
    for (const nlohmann::json& t : j) {
      if (!t.is_string()) throw Error(path + ": an item of the list is not a string");
      out.push_back(t.get<std::string>());
    }
    return out;
  }
  for (std::string& line : text_lines(text)) {
    if (!line.empty()) out.push_back(std::move(line));
  }
  return out;
}

nlohmann::ordered_json accuracy_json(const eval::ScorerAccuracy& a) {
  nlohmann::ordered_json j = {{"scorer", a.scorer},
                              {"emotion_texts", a.target_texts},
                              {"emotion_correct", a.target_correct},
                              {"emotion_accuracy", a.target_accuracy()}};
  if (a.all_texts) {
    j["all_texts"] = *a.all_texts;
    j["all_correct"] = *a.all_correct;
    j["all_accuracy"] = *a.all_accuracy();
  }
  j["confusion_rows"] = a.rows;
  j["confusion_columns"] = a.columns;
  j["confusion"] = a.confusion;
  return j;
}

void run_calibration(const ScoreFlags& f, Scorers& scorers) {
  std::string path = f.labelled;
  if (path.empty()) {
    const auto shipped = find_resource("data/eval/labelled_emotions.tsv");
    if (!shipped) throw Error("give the labelled set with --labelled FILE");
    path = *shipped;
  }
  const eval::LabelledSet set = eval::load_labelled_set(path);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < scorers.list.size(); ++i) {
    eval::ScorerAccuracy a = eval::scorer_accuracy(*scorers.list[i], set);
    a.scorer = scorers.titles[i];
    if (f.json) {
      out.push_back(accuracy_json(a));
    } else {
      std::printf("%s\n", eval::accuracy_text(a).c_str());
      std::fflush(stdout);
    }
  }
  if (f.json) std::printf("%s\n", out.dump(1).c_str());
}

void run_score(ScoreFlags f) {
  if (f.threads < 0 || f.threads > 256) {
    throw Error("--threads must be 0 (all cores) or between 1 and 256");
  }
  const bool calibrate = f.calibrate || !f.labelled.empty();
  if (calibrate && (!f.texts.empty() || !f.file.empty())) {
    throw Error("give texts to score or --calibrate, not both");
  }
  if (!f.file.empty()) {
    for (std::string& t : read_texts(f.file)) f.texts.push_back(std::move(t));
  }
  if (!calibrate && f.texts.empty()) {
    throw Error("nothing to score: give texts, -f FILE (one per line) or --calibrate");
  }
  Scorers scorers = make_scorers(f.scorers, f.threads);
  if (calibrate) {
    run_calibration(f, scorers);
    return;
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (EmotionScorer* s : scorers.list) {
    const std::vector<std::vector<double>> rows = s->score(f.texts);
    const std::vector<std::string>& labels = s->labels();
    for (size_t t = 0; t < rows.size(); ++t) {
      if (f.json) {
        nlohmann::ordered_json scores = nlohmann::ordered_json::object();
        for (size_t l = 0; l < labels.size(); ++l) scores[labels[l]] = rows[t][l];
        out.push_back({{"scorer", s->name()}, {"text", f.texts[t]}, {"scores", scores}});
        continue;
      }
      std::printf("%s\t%zu", s->name().c_str(), t);
      for (size_t l = 0; l < labels.size(); ++l) {
        std::printf("\t%s=%.4f", labels[l].c_str(), rows[t][l]);
      }
      std::printf("\n");
    }
  }
  if (f.json) std::printf("%s\n", out.dump(1).c_str());
}

}  // namespace

void register_score_command(CLI::App& app) {
  auto f = std::make_shared<ScoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "score", "emotion scores of texts, or the scorers' accuracy on a labelled set");
  cmd->add_option("texts", f->texts, "texts to score");
  cmd->add_option("-f,--file", f->file,
                  "texts to score: one per line, or a JSON list of strings in a *.json file");
  cmd->add_flag("--calibrate", f->calibrate,
                "accuracy of each scorer on the labelled set, with its confusion matrix");
  cmd->add_option("--labelled", f->labelled,
                  "labelled set for --calibrate: label<TAB>text lines under a header (default: "
                  "the shipped 144 sentences)");
  cmd->add_option("--scorers", f->scorers, kScorersHelp)->capture_default_str();
  cmd->add_option("-t,--threads", f->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", f->json, "print JSON");
  cmd->callback([f] { run_score(*f); });
}

}  // namespace emovec::cli
