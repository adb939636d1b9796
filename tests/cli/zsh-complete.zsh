# completion-zsh.zsh COMPDIR BINDIR OUT LINE...: types each LINE and a TAB into an interactive
# zsh (compinit, the completion from COMPDIR, xarch from BINDIR) and appends the edited command
# line to OUT, one line per LINE ("" when zsh never answered).
zmodload zsh/zpty
compdir=$1 bindir=$2 out=$3
shift 3
: >$out
zpty z zsh -f -i
zpty -w z "PS1=''; unsetopt beep; path=($bindir \$path); fpath=($compdir \$fpath)"
zpty -w z "autoload -Uz compinit; compinit -u -D; zstyle ':completion:*' menu no"
zpty -w z "dump() { print -r -- \"\$BUFFER\" >>$out; BUFFER=''; }; zle -N dump; bindkey '^X' dump"
n=0
for line in "$@"; do
        n=$((n + 1))
        zpty -w -n z "$line"$'\t'$'\x18'
        # wait (bounded) until the widget wrote this line
        for i in {1..400}; do
                (( $(wc -l <$out) >= n )) && break
                sleep 0.05
        done
        (( $(wc -l <$out) >= n )) || print >>$out
done
zpty -d z
