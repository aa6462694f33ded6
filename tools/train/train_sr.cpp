// Trains a built-in super-resolution network (models/networks.h) on the training
// sources of docs/DATA.md. L1 loss, Adam, cosine-decayed learning rate, fixed seed,
// periodic validation on held-out training-source frames, checkpoints and a log.
//
//   build/bin/train_sr --model fast --scale 2 --data training-data --iters 6000
//       --out models/weights/fast_x2.pt   (one line)
//
// The weights written to --out are the checkpoint with the best validation PSNR.
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "framegen/models/networks.h"
#include "framegen/pipeline/log.h"
#include "sr_data.h"

using namespace framegen;
using namespace framegen::models;
using namespace framegen::train;

namespace {

void to_channels_last(torch::nn::Module& m) {
  for (auto& p : m.parameters()) {
    if (p.dim() == 4) {
      p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
}

// Validation: whole held-out images, PSNR on Y (shave = scale), as the protocol.
double validate(SrNet& net, const std::vector<LumaPair>& val, int scale) {
  torch::NoGradGuard guard;
  net->eval();
  double sum = 0;
  for (const auto& v : val) {
    torch::Tensor out = net->forward(v.lr.unsqueeze(0).contiguous(at::MemoryFormat::ChannelsLast));
    // The deployed output is rounded to 8 bits.
    out = (out * 255).round().clamp(0, 255).squeeze(0);
    torch::Tensor hr = v.hr * 255;
    const int64_t h = hr.size(1);
    const int64_t w = hr.size(2);
    torch::Tensor d = out.slice(1, scale, h - scale).slice(2, scale, w - scale) -
                      hr.slice(1, scale, h - scale).slice(2, scale, w - scale);
    const double mse = d.pow(2).mean().item<double>();
    sum += 10.0 * std::log10(255.0 * 255.0 / mse);
  }
  net->train();
  return sum / static_cast<double>(val.size());
}

double bicubic_baseline(const std::vector<LumaPair>& val, int scale) {
  double sum = 0;
  for (const auto& v : val) {
    const Image up = imresize_matlab(v.lr_rgb, v.hr_rgb.width, v.hr_rgb.height);
    sum += psnr_y(up, v.hr_rgb, scale);
  }
  return sum / static_cast<double>(val.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a framegen super-resolution network on the DATA.md training sources"};
  std::string model = "fast";
  int scale = 2;
  std::string data = "training-data";
  std::string out;
  std::string init;
  int64_t iters = 6000;
  int batch = 16;
  int patch = 48;
  double lr = 1e-3;
  uint64_t seed = 1;
  int threads = 2;
  int val_every = 500;
  int max_side = 1600;
  app.add_option("--model", model, "fast or quality")->check(CLI::IsMember({"fast", "quality"}));
  app.add_option("--scale", scale, "2, 3 or 4")->check(CLI::IsMember({2, 3, 4}));
  app.add_option("--data", data, "folder made by tools/fetch-training-data.sh");
  app.add_option("--out", out, "weights file to write (best validation checkpoint)")->required();
  app.add_option("--init", init, "start from these weights (same model; the tail is skipped if shapes differ)");
  app.add_option("--iters", iters, "optimizer steps");
  app.add_option("--batch", batch, "patches per step");
  app.add_option("--patch", patch, "LR patch side");
  app.add_option("--lr", lr, "initial learning rate (cosine decay to 1/100)");
  app.add_option("--seed", seed, "random seed");
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--val-every", val_every, "validate and checkpoint every N steps");
  app.add_option("--max-side", max_side, "photos are shrunk (MATLAB bicubic) to at most this many pixels per side");
  CLI11_PARSE(app, argc, argv);

  init_logging("info");
  torch::manual_seed(seed);
  torch::set_num_threads(threads);
  std::mt19937_64 rng(seed);

  const auto t_load = std::chrono::steady_clock::now();
  SrDataset ds = load_sr_dataset(data, scale, max_side);
  int64_t train_px = 0;
  for (const auto& d : ds.train) {
    train_px += d.hr.numel();
  }
  spdlog::info("data: {} training images ({:.1f} MPix HR), {} validation images, loaded in {:.0f}s", ds.train.size(),
               train_px / 1e6, ds.validation.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());

  SrNet net(builtin_config(model, scale));
  {
    // Start near bicubic: a small tail makes the initial residual almost zero.
    torch::NoGradGuard g;
    for (auto& kv : net->named_parameters()) {
      if (kv.key().rfind("tail.", 0) == 0) {
        kv.value().mul_(0.1);
      }
    }
  }
  if (!init.empty()) {
    SrNet src(builtin_config(model, scale == 2 ? 2 : scale));
    // Load into a donor of the init file's scale, then copy every tensor whose shape matches.
    for (int s : {2, 3, 4}) {
      try {
        SrNet donor(builtin_config(model, s));
        torch::load(donor, init);
        src = donor;
        break;
      } catch (const std::exception&) {
      }
    }
    torch::NoGradGuard g;
    auto dst = net->named_parameters();
    int copied = 0;
    for (auto& kv : src->named_parameters()) {
      if (auto* p = dst.find(kv.key()); p != nullptr && p->sizes() == kv.value().sizes()) {
        p->copy_(kv.value());
        ++copied;
      }
    }
    spdlog::info("initialised {} tensors from {}", copied, init);
  }
  to_channels_last(*net);
  spdlog::info("model {} x{}: {} MACs per LR pixel, receptive radius {} px", model, scale, net->macs_per_pixel(),
               net->receptive_radius());

  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(lr).betas({0.9, 0.999}));
  const double base_val = bicubic_baseline(ds.validation, scale);
  double best = validate(net, ds.validation, scale);
  spdlog::info("validation: bicubic (MATLAB) {:.3f} dB, {} {:.3f} dB", base_val,
               init.empty() ? "untrained net" : "start (--init)", best);
  const std::string ckpt = out + ".ckpt";
  std::filesystem::create_directories(std::filesystem::path(out).parent_path());
  torch::save(net, out);

  const auto t0 = std::chrono::steady_clock::now();
  double running = 0;
  for (int64_t it = 1; it <= iters; ++it) {
    const double cur_lr = lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * static_cast<double>(it) / iters)));
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(cur_lr);
    }
    auto [x, y] = sample_batch(ds.train, batch, patch, scale, rng);
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
    opt.zero_grad();
    torch::Tensor loss = torch::l1_loss(net->forward(x), y);
    loss.backward();
    opt.step();
    running = it == 1 ? loss.item<double>() : 0.98 * running + 0.02 * loss.item<double>();
    if (it % 100 == 0) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      spdlog::info("step {}/{} l1 {:.5f} lr {:.2e} {:.1f} steps/s elapsed {:.0f}s", it, iters, running, cur_lr, it / el,
                   el);
    }
    if (it % val_every == 0 || it == iters) {
      const double v = validate(net, ds.validation, scale);
      torch::save(net, ckpt);
      if (v > best) {
        best = v;
        torch::save(net, out);
      }
      spdlog::info("step {} validation {:.3f} dB (bicubic {:.3f}, best {:.3f})", it, v, base_val, best);
    }
  }
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("done: {} steps in {:.0f}s; best validation {:.3f} dB (bicubic {:.3f}); weights {}", iters, el, best,
               base_val, out);
  return 0;
}
