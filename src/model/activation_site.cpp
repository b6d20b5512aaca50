#include "emovec/activation_site.h"

#include <string>

#include "emovec/error.h"

namespace emovec {

std::string_view activation_site_name(ActivationSite site) {
  switch (site) {
    case ActivationSite::Residual:
      return "resid";
    case ActivationSite::AttentionOut:
      return "attn_out";
    case ActivationSite::MlpOut:
      return "mlp_out";
  }
  return "unknown";
}

ActivationSite parse_activation_site(std::string_view name) {
  if (name == "resid" || name == "residual") return ActivationSite::Residual;
  if (name == "attn_out" || name == "attention") return ActivationSite::AttentionOut;
  if (name == "mlp_out" || name == "mlp") return ActivationSite::MlpOut;
  throw Error("unknown activation site '" + std::string(name) +
              "' (known: resid, attn_out, mlp_out)");
}

}  // namespace emovec
