// Shell completion scripts, generated from the command table. Ids are
// completed by asking the daemon (`sbx sandbox ls -q`), with the same
// --address and --namespace as the line being completed.
import type { FlagSpec } from "@sandboxd/core/args";
import type { CommandSpec } from "./commands.js";
import { commands, globalFlags, groupCommands, groups } from "./commands.js";

function flagWords(flags: readonly FlagSpec[]): string[] {
  return flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
}

function valueFlagPattern(flags: readonly FlagSpec[]): string {
  return flagWords(flags.filter((f) => f.type === "value")).join("|");
}

/** What to offer after a value flag. */
function valueCompletion(flag: FlagSpec): string {
  if (flag.choices) return `COMPREPLY=($(compgen -W "${flag.choices.join(" ")}" -- "$cur"))`;
  switch (flag.name) {
    case "namespace":
      return `COMPREPLY=($(compgen -W "$(_sbx_ids namespace)" -- "$cur"))`;
    case "sandbox":
      return `COMPREPLY=($(compgen -W "$(_sbx_ids sandbox)" -- "$cur"))`;
    case "signal":
      return `COMPREPLY=($(compgen -W "TERM KILL INT HUP QUIT USR1 USR2 STOP CONT" -- "$cur"))`;
    case "rootfs":
    case "cwd":
    case "address":
      return `COMPREPLY=($(compgen -f -- "$cur"))`;
    default:
      return "COMPREPLY=()";
  }
}

function positionalCompletion(spec: CommandSpec): string {
  switch (spec.complete) {
    case "sandbox":
    case "container":
    case "namespace":
      return `COMPREPLY=($(compgen -W "$(_sbx_ids ${spec.complete})" -- "$cur"))`;
    case "task":
      return `COMPREPLY=($(compgen -W "$(_sbx_ids task)" -- "$cur"))`;
    case "shell":
      return `COMPREPLY=($(compgen -c -- "$cur"))`;
    case undefined:
      return spec.name === "completion"
        ? `COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))`
        : "COMPREPLY=()";
  }
}

/** The bash completion script (`source <(sbx completion bash)`). */
export function bashCompletion(): string {
  const top = [
    ...commands.filter((c) => !c.name.includes(" ")).map((c) => c.name),
    ...groups.flatMap((g) => [g.name, ...g.aliases]),
    "help",
  ];
  const groupCase = groups
    .map((g) => `    ${[g.name, ...g.aliases].join("|")}) echo ${g.name} ;;`)
    .join("\n");
  const subcommands = groups
    .map((g) => {
      const words = groupCommands(g.name).flatMap((c) => [
        c.name.split(" ")[1]!,
        ...(c.aliases ?? []),
      ]);
      return `    ${g.name}) COMPREPLY=($(compgen -W "${words.join(" ")}" -- "$cur")) ;;`;
    })
    .join("\n");
  const commandCases = commands
    .map((spec) => {
      const [group, sub] = spec.name.split(" ");
      const subs = sub ? [sub, ...(spec.aliases ?? [])] : [];
      const key = sub ? subs.map((s) => `"${group} ${s}"`).join("|") : `"${group} "`;
      const allFlags = [...spec.flags, ...globalFlags];
      const valueCases = allFlags
        .filter((f) => f.type === "value")
        .map((f) => `        ${flagWords([f]).join("|")}) ${valueCompletion(f)}; return ;;`)
        .join("\n");
      const stop = spec.passthroughAfter ?? -1;
      return [
        `    ${key})`,
        `      case "$prev" in`,
        valueCases,
        `      esac`,
        `      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "${flagWords(allFlags).join(" ")}" -- "$cur")); return; fi`,
        stop >= 0
          ? `      if ((npos > ${stop})); then COMPREPLY=($(compgen -f -- "$cur")); return; fi`
          : "",
        `      ${positionalCompletion(spec)}`,
        `      ;;`,
      ]
        .filter(Boolean)
        .join("\n");
    })
    .join("\n");
  return `# sbx bash completion. Load with: source <(sbx completion bash)
_sbx_ids() {
  local kind=$1
  sbx "\${_sbx_globals[@]}" "$kind" ls -q 2>/dev/null
}

_sbx_group() {
  case "$1" in
${groupCase}
  esac
}

_sbx() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local group="" sub="" npos=0 i w
  _sbx_globals=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case "$w" in
      ${valueFlagPattern(globalFlags)})
        case "$w" in --address|-n|--namespace) _sbx_globals+=("$w" "\${COMP_WORDS[i+1]}") ;; esac
        ((i++)) ;;
      -*)
        if [[ -n $group ]] && [[ $w == --* ]] && [[ $w != *=* ]]; then
          case "$w" in ${valueFlagPattern(commands.flatMap((c) => c.flags))}) ((i++)) ;; esac
        fi ;;
      *)
        if [[ -z $group ]]; then
          group=$(_sbx_group "$w")
          if [[ -z $group ]]; then group=$w; sub=" "; fi
        elif [[ -z $sub ]]; then sub=$w
        else ((npos++))
        fi ;;
    esac
  done
  if [[ -z $group ]]; then
    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "${flagWords(globalFlags).join(" ")}" -- "$cur")); return; fi
    case "$prev" in
${globalFlags
  .filter((f) => f.type === "value")
  .map((f) => `      ${flagWords([f]).join("|")}) ${valueCompletion(f)}; return ;;`)
  .join("\n")}
    esac
    COMPREPLY=($(compgen -W "${top.join(" ")}" -- "$cur"))
    return
  fi
  if [[ -z $sub ]]; then
    case "$group" in
${subcommands}
    esac
    return
  fi
  [[ $sub == " " ]] && sub=""
  case "$group $sub" in
${commandCases}
  esac
}
complete -F _sbx sbx
`;
}

/** The zsh completion script: the bash one through zsh's bashcompinit. */
export function zshCompletion(): string {
  return `# sbx zsh completion. Load with: source <(sbx completion zsh)   (after compinit)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion()}`;
}
