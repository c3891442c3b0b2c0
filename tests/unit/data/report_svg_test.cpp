// The learning report's chart: readable labels, a legend that fits 30 keys, distinguishable
// series, axis ticks; and the SVG really renders (rsvg-convert, Debian package librsvg2-bin).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/digest.hpp"
#include "data/report.hpp"

namespace atlas::data {
namespace {

Report report_with_keys(int keys) {
  Report r;
  for (int k = 0; k < keys; ++k) {
    KeyReport kr;
    kr.learning_key = sha256_hex("key " + std::to_string(k));
    kr.first_task = "Review pull request #" + std::to_string(100 + k) +
                    " of the payments service for injection and authorisation flaws";
    const int sessions = 1 + (k * 7) % 40;
    for (int i = 0; i < sessions; ++i)
      kr.rewards.emplace_back(std::to_string(k * 100 + i), 0.3 + 0.6 * ((i + k) % 10) / 10.0);
    kr.sessions = static_cast<uint64_t>(sessions);
    r.sessions += kr.sessions;
    r.keys.push_back(std::move(kr));
  }
  return r;
}

TEST(ReportLabels, ShortenForDisplayKeepsOneLineAndWholeCodePoints) {
  EXPECT_EQ(shorten_for_display("fix\n  the   bug", 40), "fix the bug");
  EXPECT_EQ(shorten_for_display("abcdef", 4), "abc\u2026");
  // "é" is two bytes: the cut never splits it.
  EXPECT_EQ(shorten_for_display("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3), "\xC3\xA9\xC3\xA9\u2026");
  EXPECT_EQ(shorten_for_display("short", 5), "short");
}

TEST(ReportLabels, DigestKeysAreLabelledByTheirTaskOverridesByThemselves) {
  std::vector<KeyReport> keys(4);
  keys[0].learning_key = "security-review";  // learning_key_override
  keys[1].learning_key = sha256_hex("a");
  keys[1].first_task = "Summarise the incident\nreport for the on-call team";
  keys[2].learning_key = sha256_hex("b");  // same task, other tags: another key, same text
  keys[2].first_task = keys[1].first_task;
  keys[3].learning_key = "";
  assign_report_labels(keys);
  EXPECT_EQ(keys[0].label, "security-review");
  const std::string task = "Summarise the incident report for the o\u2026";  // 40 code points
  EXPECT_EQ(keys[1].label, task + " #" + keys[1].learning_key.substr(0, 8));
  EXPECT_EQ(keys[2].label, task + " #" + keys[2].learning_key.substr(0, 8));
  EXPECT_EQ(keys[3].label, "(no key)");
  for (const auto& k : keys) EXPECT_LT(k.label.size(), 64u) << k.label;
}

TEST(ReportSvg, ThirtyKeysRenderWithALegendThatFitsAndDistinctSeries) {
  Report r = report_with_keys(30);
  for (auto& k : r.keys) k.label = shorten_for_display(k.first_task, 40);
  const std::string svg = report_svg(r);

  // Every key has its own colour and dash pattern.
  std::regex legend_line(
      R"re(<line x1="\d+" y1="\d+" x2="\d+" y2="\d+" stroke="(#[0-9a-f]{6})" stroke-width="3"(?: stroke-dasharray="([0-9 ]+)")?/>)re");
  std::set<std::string> styles;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), legend_line); it != std::sregex_iterator(); ++it)
    styles.insert((*it)[1].str() + "/" + (*it)[2].str());
  EXPECT_EQ(styles.size(), 30u);
  // The legend's last row lies inside the picture.
  std::smatch size;
  ASSERT_TRUE(std::regex_search(svg, size, std::regex(R"re(width="(\d+)" height="(\d+)")re")));
  const int height = std::stoi(size[2].str());
  int last_row = 0;
  std::regex legend_text(R"re(<text x="\d+" y="(\d+)">Review)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), legend_text); it != std::sregex_iterator(); ++it)
    last_row = std::max(last_row, std::stoi((*it)[1].str()));
  EXPECT_GT(last_row, 0);
  EXPECT_LT(last_row, height - 10);
  // Labels, not 64-digit digests, in the legend; the digest stays in the series' tooltip.
  EXPECT_EQ(svg.find(">" + r.keys[0].learning_key + "<"), svg.find("<title>" + r.keys[0].learning_key) + 6);
  EXPECT_NE(svg.find("Review pull request #100"), std::string::npos);
  // x-axis ticks: 40 sessions at most -> a tick every 5 sessions.
  EXPECT_NE(svg.find("text-anchor=\"middle\">40</text>"), std::string::npos) << "no tick for session 40";
  EXPECT_NE(svg.find("text-anchor=\"middle\">1</text>"), std::string::npos);

  // It renders: rsvg-convert exits 0 and writes a PNG of the SVG's size.
  const auto dir = std::filesystem::temp_directory_path() / "atlas-report-svg-test";
  std::filesystem::create_directories(dir);
  const auto svg_path = dir / "report-30-keys.svg", png_path = dir / "report-30-keys.png";
  std::filesystem::remove(png_path);
  std::ofstream(svg_path) << svg;
  const std::string cmd = "rsvg-convert --format png --output '" + png_path.string() + "' '" + svg_path.string() +
                          "' 2>'" + (dir / "rsvg.err").string() + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream err_in(dir / "rsvg.err");
  std::stringstream err;
  err << err_in.rdbuf();
  ASSERT_EQ(rc, 0) << "rsvg-convert failed (install the Debian package librsvg2-bin: packaging/install-deps.sh): "
                   << err.str();
  std::ifstream png(png_path, std::ios::binary);
  std::string header(24, '\0');
  png.read(header.data(), 24);
  ASSERT_TRUE(png.good()) << "no PNG written";
  EXPECT_EQ(header.substr(1, 3), "PNG");
  auto be32 = [&](size_t at) {
    return (static_cast<unsigned char>(header[at]) << 24) | (static_cast<unsigned char>(header[at + 1]) << 16) |
           (static_cast<unsigned char>(header[at + 2]) << 8) | static_cast<unsigned char>(header[at + 3]);
  };
  EXPECT_EQ(static_cast<int>(be32(20)), height);
  EXPECT_EQ(static_cast<int>(be32(16)), std::stoi(size[1].str()));
}

TEST(ReportSvg, NoScoredSessionStillRendersAnEmptyChart) {
  Report r;
  const std::string svg = report_svg(r);
  EXPECT_NE(svg.find("no scored sessions"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace atlas::data
