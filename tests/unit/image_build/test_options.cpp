// gantry build's flag values with a grammar: --build-arg, --secret, --label, choices.
#include "image_build/options.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace build_options_test {

using namespace gantry::image_build;
using gantry::Errc;

namespace {
Errc code_of(auto&& fn) {
    try {
        fn();
    } catch (const gantry::Error& e) {
        return e.code();
    }
    return Errc::internal;
}
} // namespace

TEST(BuildOptions, BuildArgs) {
    std::map<std::string, std::string> args, env = {{"HOME_ARG", "from-env"}};
    add_build_arg(args, "A=1=2", env);
    add_build_arg(args, "EMPTY=", env);
    add_build_arg(args, "HOME_ARG", env);
    add_build_arg(args, "UNSET", env);
    EXPECT_EQ(args, (std::map<std::string, std::string>{
                        {"A", "1=2"}, {"EMPTY", ""}, {"HOME_ARG", "from-env"}}));
    EXPECT_EQ(code_of([&] { add_build_arg(args, "1X=2", env); }), Errc::usage);
    EXPECT_EQ(code_of([&] { add_build_arg(args, "=2", env); }), Errc::usage);
}

TEST(BuildOptions, Secrets) {
    auto s = parse_secret("id=tok,src=/run/tok.txt");
    EXPECT_EQ(s.id, "tok");
    EXPECT_EQ(s.src, "/run/tok.txt");
    EXPECT_EQ(parse_secret("source=/a/b.key").id, "b.key");
    EXPECT_EQ(parse_secret("id=x,env=TOKEN").env, "TOKEN");
    EXPECT_EQ(code_of([] { parse_secret("id=x"); }), Errc::usage);
    EXPECT_EQ(code_of([] { parse_secret("id=x,src"); }), Errc::usage);
    EXPECT_EQ(code_of([] { parse_secret("id=x,path=/a"); }), Errc::usage);
}

TEST(BuildOptions, LabelsAndChoices) {
    EXPECT_EQ(parse_label("a=b=c"), (std::pair<std::string, std::string>{"a", "b=c"}));
    EXPECT_EQ(code_of([] { parse_label("novalue"); }), Errc::usage);
    EXPECT_EQ(check_choice("--progress", "plain", {"auto", "plain", "tty"}), "plain");
    EXPECT_EQ(code_of([] { check_choice("--network", "bridge", {"host", "none"}); }), Errc::usage);
}

} // namespace build_options_test
