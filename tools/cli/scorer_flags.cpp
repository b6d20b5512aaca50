#include "scorer_flags.h"

#include <algorithm>

#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "emovec/nade.h"
#include "eval/judge_scorer.h"
#include "eval/mnli_scorer.h"
#include "list_flags.h"

namespace emovec::cli {

const char* const kScorersHelp =
    "emotion scorers, comma-separated: nade (a lexical model, not a language model), "
    "judge[=MODEL] (an instruct model asked which emotion; default: the largest shipped chat "
    "model), mnli=DIR (a Hugging Face RoBERTa-family MNLI classifier)";

Scorers make_scorers(const std::string& spec, int threads) {
  Scorers s;
  std::vector<std::string> names;
  for (const std::string& item : split_list(spec)) {
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const std::string arg = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw Error("--scorers: '" + name + "' is given twice");
    }
    names.push_back(name);
    std::string title = name;
    if (name == "nade") {
      const ShippedModel& data = shipped_model("nade-socialmedia-en");
      if (!is_fetched(data)) {
        throw Error("the nade scorer's data (nade-socialmedia-en) is not in " + models_dir() +
                    ": run scripts/setup.sh, or leave nade out of --scorers");
      }
      s.owned.push_back(std::make_unique<NadeScorer>(model_location(data)));
    } else if (name == "mnli") {
      if (arg.empty()) throw Error("--scorers: mnli needs its model folder, as mnli=DIR");
      s.files.push_back(open_model_file(resolve_model_argument(arg)));
      s.owned.push_back(std::make_unique<MnliScorer>(*s.files.back()));
      title = "mnli (" + arg + ")";
    } else if (name == "judge") {
      std::string model = arg;
      if (model.empty()) {
        const ShippedModel& judge = default_judge_model();
        if (!is_fetched(judge)) {
          throw Error("the judge's default model, " + judge.name + ", is not in " + models_dir() +
                      ": run scripts/setup.sh, or name another as judge=MODEL");
        }
        model = judge.name;
      }
      s.judges.push_back(DecoderModel::load(resolve_model_argument(model)));
      JudgeOptions o;
      o.engine.n_threads = threads;
      s.owned.push_back(std::make_unique<JudgeScorer>(*s.judges.back(), o));
      title = "judge (" + model + ")";
    } else {
      throw Error("--scorers: unknown scorer '" + name +
                  "' (known: nade, judge[=MODEL], mnli=DIR)");
    }
    s.list.push_back(s.owned.back().get());
    s.titles.push_back(title);
  }
  if (s.list.empty()) throw Error("--scorers: no scorer given");
  return s;
}

}  // namespace emovec::cli
