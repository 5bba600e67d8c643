/**
 * The shell scripts `mindbg completion SHELL` prints. Each one only hands the words of the line to
 * `mindbg __complete` and shows what it answers (src/cli/completion/engine.ts: cobra's format, one candidate a line
 * with an optional TAB and description, then ":DIRECTIVE"), so commands and flags added later need no new script.
 */
export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** How to load the script, for `mindbg completion --help` and the README. */
export const INSTALL_HINTS: Record<Shell, string[]> = {
  bash: ['source <(mindbg completion bash)     # in ~/.bashrc; or once:', 'mindbg completion bash > ~/.local/share/bash-completion/completions/mindbg'],
  zsh: ['source <(mindbg completion zsh)      # in ~/.zshrc, after compinit; or once:', 'mindbg completion zsh > "${fpath[1]}/_mindbg"      # then compinit'],
  fish: ['mindbg completion fish > ~/.config/fish/completions/mindbg.fish'],
}

const BASH = `# bash completion for mindbg: source <(mindbg completion bash)
__mindbg_complete() {
    local line=\${COMP_LINE:0:COMP_POINT} pos=0 i word gap
    local -a words=()
    # bash splits the line at COMP_WORDBREAKS (":" and "=" among them): glue back the pieces typed without a blank
    # between them, so that mindbg sees web:/etc, k8s://ns/pod and --profile=gen as they were typed.
    for ((i = 0; i <= COMP_CWORD; i++)); do
        word=\${COMP_WORDS[i]}
        gap=\${line:pos}
        gap=\${gap%%[![:space:]]*}
        ((pos += \${#gap}))
        ((i == COMP_CWORD)) && word=\${line:pos}
        if ((i > 0 && \${#gap} == 0)); then
            words[\${#words[@]}-1]+=$word
        else
            words+=("$word")
        fi
        ((pos += \${#word}))
    done
    local program=\${words[0]} cur=\${words[\${#words[@]}-1]} out
    [[ $program == "~/"* ]] && program=$HOME/\${program:2}
    out=$("$program" __complete "\${words[@]:1}" 2>/dev/null) || return 0
    local -a lines
    mapfile -t lines <<<"$out"
    local directive=0 last=\${lines[\${#lines[@]}-1]}
    if [[ $last == :* ]]; then
        directive=\${last:1}
        unset 'lines[\${#lines[@]}-1]'
    fi
    ((directive & 1)) && return 0
    # readline replaces only what follows the last break character of the word: hand it that part.
    local breaks=\${COMP_WORDBREAKS//[^:=]/} tail=$cur value
    [[ -n $breaks ]] && tail=\${cur##*[$breaks]}
    local head=\${cur:0:\${#cur}-\${#tail}}
    COMPREPLY=()
    for value in "\${lines[@]}"; do
        value=\${value%%$'\\t'*}
        [[ -n $value && $value == "$head"* ]] && COMPREPLY+=("\${value:\${#head}}")
    done
    ((directive & 2)) && compopt -o nospace 2>/dev/null
    ((\${#COMPREPLY[@]} == 0 && !(directive & 4))) && compopt -o default 2>/dev/null
    return 0
}
complete -F __mindbg_complete mindbg
`

const ZSH = `#compdef mindbg
# zsh completion for mindbg: source <(mindbg completion zsh) after compinit, or this file as _mindbg in $fpath.
_mindbg() {
    local out directive=0 line value description
    local -a lines candidates
    out=$("\${words[1]}" __complete "\${(@)words[2,CURRENT-1]}" "$PREFIX" 2>/dev/null) || return 1
    lines=("\${(@f)out}")
    if [[ \${lines[-1]} == :* ]]; then
        directive=\${lines[-1]#:}
        lines[-1]=()
    fi
    (( directive & 1 )) && return 1
    for line in "\${lines[@]}"; do
        [[ -z $line ]] && continue
        value=\${line%%$'\\t'*}
        description=
        [[ $line == *$'\\t'* ]] && description=\${line#*$'\\t'}
        candidates+=("\${value//:/\\\\:}\${description:+:$description}")
    done
    if (( \${#candidates} == 0 )); then
        (( directive & 4 )) || _files
        return
    fi
    if (( directive & 2 )); then
        _describe -t values mindbg candidates -S ''
    else
        _describe -t values mindbg candidates
    fi
}
# Autoloaded from $fpath, this file is the body of _mindbg: define it, then complete; sourced, register it.
if [[ \${funcstack[1]} == _mindbg ]]; then
    _mindbg "$@"
else
    compdef _mindbg mindbg
fi
`

const FISH = `# fish completion for mindbg: mindbg completion fish > ~/.config/fish/completions/mindbg.fish
function __mindbg_complete
    set -l words (commandline -opc)
    set -l current (commandline -ct)
    set -l out ($words[1] __complete $words[2..-1] "$current" 2>/dev/null)
    or return
    set -l directive 0
    if string match -qr '^:[0-9]+$' -- "$out[-1]"
        set directive (string sub -s 2 -- $out[-1])
        set -e out[-1]
    end
    test (math "bitand($directive, 1)") -ne 0; and return
    if test (count $out) -eq 0
        test (math "bitand($directive, 4)") -eq 0; and __fish_complete_path "$current"
        return
    end
    printf '%s\\n' $out
end
complete -c mindbg -f -a '(__mindbg_complete)'
`

export const SCRIPTS: Record<Shell, string> = {bash: BASH, zsh: ZSH, fish: FISH}
