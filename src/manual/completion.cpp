#include "manual/completion.hpp"

#include "util/error.hpp"

namespace gantry::manual {

namespace {

// One command's row of the scripts' tables, keyed by its path ("gantry/system/prune"); an
// alias's path gets a row of its own ("gantry/ls" as "gantry/images").
struct Row {
    std::string key;
    std::string subcommands; // names and aliases, space-separated
    std::string options;     // every option name
    std::string valued;      // the names of options that take a value
    std::string operands;    // each operand's kind word ("-": none); "*" after one that repeats
};

// A word that goes into a script between single quotes, and into a case pattern: command and
// option names are [A-Za-z0-9_.-] (the parser's); anything else is a bug, not a quoting job.
const std::string& checked(const std::string& word) {
    for (char c : word)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            throw Error(Errc::internal, "command or option name \"" + word +
                                            "\" has a character the completion scripts "
                                            "cannot hold");
    return word;
}

void add_word(std::string& list, const std::string& word) {
    if (!list.empty()) list += ' ';
    list += checked(word);
}

void rows_of(const Command& c, const std::string& key, std::vector<Row>& out) {
    Row r;
    r.key = key;
    for (const auto& s : c.subcommands) {
        add_word(r.subcommands, s.name);
        for (const auto& a : s.aliases) add_word(r.subcommands, a);
    }
    for (const auto& o : c.options)
        for (const auto& n : o.names) {
            add_word(r.options, n);
            if (!o.value.empty()) add_word(r.valued, n);
        }
    for (const auto& op : c.operands) {
        auto word = std::string(operand_kind_word(operand_kind(op.name)));
        if (word.empty()) word = "-";
        // a command with its own usage (run, exec) takes a command line after its operand
        if (op.many && c.usage.empty()) word += '*';
        r.operands += (r.operands.empty() ? "" : " ") + word; // our own words: no check
    }
    out.push_back(r);
    for (const auto& s : c.subcommands) {
        rows_of(s, key + "/" + checked(s.name), out);
        for (const auto& a : s.aliases) rows_of(s, key + "/" + checked(a), out);
    }
}

std::vector<Row> rows(const Command& root) {
    std::vector<Row> out;
    rows_of(root, checked(root.name), out);
    return out;
}

// NAME=( ['key']='value' ... ) for the column FIELD of the rows, in either shell's syntax
std::string table(const std::vector<Row>& rs, const char* name, std::string Row::*field) {
    std::string out = name;
    out += "=(\n";
    for (const auto& r : rs) out += "    ['" + r.key + "']='" + r.*field + "'\n";
    return out + ")\n";
}

std::string tables(const std::vector<Row>& rs) {
    return table(rs, "_gantry_subs", &Row::subcommands) +
           table(rs, "_gantry_options", &Row::options) + table(rs, "_gantry_valued", &Row::valued) +
           table(rs, "_gantry_operands", &Row::operands);
}

constexpr const char* kBashBody = R"BASH(
# The command's path ("gantry/system"), its operands so far, and the --root the line gives
# (images are listed from that store).
_gantry_line() {
    _gantry_key=gantry _gantry_operand=0 _gantry_root=()
    [[ ${COMP_WORDS[0]##*/} == gantry-oci ]] && _gantry_key=gantry/oci # gantry as a runtime
    local i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -* ]]; then
            if [[ $w != *=* && " ${_gantry_valued[$_gantry_key]} " == *" $w "* ]]; then
                [[ $w == --root ]] && _gantry_root=(--root "${COMP_WORDS[i + 1]}")
                ((i++))
            fi
        elif ((_gantry_operand == 0)) && [[ " ${_gantry_subs[$_gantry_key]} " == *" $w "* ]]; then
            _gantry_key+=/$w
        else
            ((_gantry_operand++))
        fi
    done
}

_gantry() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local _gantry_key _gantry_operand _gantry_root
    _gantry_line
    COMPREPLY=()
    if ((COMP_CWORD > 1)) && [[ $prev == -* && " ${_gantry_valued[$_gantry_key]} " == *" $prev "* ]]; then
        return # an option's value: files (complete -o default)
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${_gantry_options[$_gantry_key]}" -- "$cur"))
        return
    fi
    if [[ -n ${_gantry_subs[$_gantry_key]} ]] && ((_gantry_operand == 0)); then
        COMPREPLY=($(compgen -W "${_gantry_subs[$_gantry_key]}" -- "$cur"))
        return
    fi
    local -a kinds
    local kind
    read -ra kinds <<<"${_gantry_operands[$_gantry_key]}" # not =(...): "image*" would glob
    kind=${kinds[_gantry_operand]}
    if [[ -z $kind && ${#kinds[@]} -gt 0 && ${kinds[-1]} == *'*' ]]; then kind=${kinds[-1]}; fi
    case ${kind%'*'} in
    image) COMPREPLY=($(compgen -W "$(gantry "${_gantry_root[@]}" __complete images 2>/dev/null)" -- "$cur")) ;;
    container) COMPREPLY=($(compgen -W "$(gantry __complete containers 2>/dev/null)" -- "$cur")) ;;
    esac
}
complete -o default -F _gantry gantry gantry-oci
)BASH";

constexpr const char* kZshBody = R"ZSH(
_gantry() {
    local key=gantry w i operand=0 cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    local -a root_args kinds
    [[ ${words[1]:t} == gantry-oci ]] && key=gantry/oci # gantry as a runtime
    for ((i = 2; i < CURRENT; i++)); do
        w=${words[i]}
        if [[ $w == -* ]]; then
            if [[ $w != *=* && " ${_gantry_valued[$key]} " == *" $w "* ]]; then
                [[ $w == --root ]] && root_args=(--root ${words[i+1]})
                ((i++))
            fi
        elif ((operand == 0)) && [[ " ${_gantry_subs[$key]} " == *" $w "* ]]; then
            key+=/$w
        else
            ((operand++))
        fi
    done
    if ((CURRENT > 2)) && [[ $prev == -* && " ${_gantry_valued[$key]} " == *" $prev "* ]]; then
        _files
        return
    fi
    if [[ $cur == -* ]]; then
        compadd -- ${=_gantry_options[$key]}
        return
    fi
    if [[ -n ${_gantry_subs[$key]} ]] && ((operand == 0)); then
        compadd -- ${=_gantry_subs[$key]}
        return
    fi
    kinds=(${=_gantry_operands[$key]})
    local kind=${kinds[operand+1]}
    if [[ -z $kind && ${#kinds} -gt 0 && ${kinds[-1]} == *'*' ]]; then kind=${kinds[-1]}; fi
    case ${kind%\*} in
    image) compadd -- ${(f)"$(gantry $root_args __complete images 2>/dev/null)"} ;;
    container) compadd -- ${(f)"$(gantry __complete containers 2>/dev/null)"} ;;
    *) _files ;;
    esac
}
_gantry "$@"
)ZSH";

} // namespace

std::string bash_completion(const Command& root) {
    std::string out = "# bash completion for gantry(1). Generated by `gantry __generate bash` from "
                      "gantry's command tree:\n# do not edit. Tables keyed by the command's path: "
                      "its subcommands, options, the options\n# that take a value, and what each "
                      "operand names (\"*\": it repeats).\n";
    out += "declare -gA _gantry_subs _gantry_options _gantry_valued _gantry_operands\n";
    out += tables(rows(root));
    return out + kBashBody;
}

std::string zsh_completion(const Command& root) {
    std::string out =
        "#compdef gantry gantry-oci\n# zsh completion for gantry(1). Generated by `gantry "
        "__generate zsh` from gantry's command tree:\n# do not edit.\n";
    out += "typeset -gA _gantry_subs _gantry_options _gantry_valued _gantry_operands\n";
    out += tables(rows(root));
    return out + kZshBody;
}

} // namespace gantry::manual
