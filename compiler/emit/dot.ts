// Graphviz DOT of a program's module graph: one box per top-level module (vision, connector, …),
// one small node per op the model applies directly (relu, add, …), inputs and outputs as ellipses;
// edges carry the shape that flows along them. Deterministic: nodes and edges in program order.
import type { IRNode, IRProgram } from "../ir.js";
import { formatShape } from "../elaborate/shapes.js";

function quote(text: string): string {
  // Newlines become DOT's \n line breaks; backslashes and quotes are escaped.
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

export function emitDot(program: IRProgram): string {
  const topOf = new Map(program.modules.filter((m) => m.path !== "" && !m.path.includes(".")).map((m) => [m.path, m]));
  // The graph node an IR node belongs to: its top-level module, or itself at model level.
  const groupOf = (node: IRNode): string | null => {
    if (node.module !== "") return `m:${node.module.split(".")[0]}`;
    if (node.op === "const") return null;
    return `n:${node.id}`;
  };
  const lines: string[] = [`digraph ${quote(program.model)} {`, "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];'];
  const declared = new Set<string>();
  const byId = new Map(program.nodes.map((n) => [n.id, n]));
  const declare = (group: string, node: IRNode) => {
    if (declared.has(group)) return;
    declared.add(group);
    if (group.startsWith("m:")) {
      const m = topOf.get(group.slice(2));
      const kind = m ? `${m.kind === "op" ? m.block : `${m.kind} ${m.block}`}` : "";
      lines.push(`  ${quote(group)} [shape=box, style=rounded, label=${quote(`${group.slice(2)}\n${kind}`)}];`);
    } else if (node.op === "input") {
      lines.push(`  ${quote(group)} [shape=ellipse, label=${quote(`${node.attrs.name}\n${formatShape(node.shape)}`)}];`);
    } else {
      lines.push(`  ${quote(group)} [shape=box, style=dashed, label=${quote(node.op)}];`);
    }
  };
  const edges = new Set<string>();
  for (const node of program.nodes) {
    const to = groupOf(node);
    if (to === null) continue;
    declare(to, node);
    for (const inputId of node.inputs) {
      const input = byId.get(inputId)!;
      const from = groupOf(input);
      if (from === null || from === to) continue;
      const edge = `  ${quote(from)} -> ${quote(to)} [label=${quote(formatShape(input.shape))}];`;
      if (!edges.has(edge)) {
        edges.add(edge);
        lines.push(edge);
      }
    }
  }
  const sinks = [...program.outputs.map((o) => ({ name: o.name, node: o.node })), ...(program.loss ? [{ name: "loss", node: program.loss }] : [])];
  for (const sink of sinks) {
    const node = byId.get(sink.node)!;
    const from = groupOf(node);
    if (from === null) continue;
    lines.push(`  ${quote(`out:${sink.name}`)} [shape=ellipse, style=bold, label=${quote(sink.name)}];`);
    lines.push(`  ${quote(from)} -> ${quote(`out:${sink.name}`)} [label=${quote(formatShape(node.shape))}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
