// How many visual tokens a program hands to its connector: the token axis of the connector's image
// input. That input is not named in the IR, so it is found from the graph: the first value that
// flows into the connector from outside it and depends on an image input of the model.
import { formatShape } from "../elaborate/shapes.js";
import type { IRNode, IRProgram } from "../ir.js";
import type { VisualTokens } from "./types.js";

export function visualTokens(program: IRProgram): VisualTokens {
  const connector = program.modules.find((m) => m.kind === "connector");
  if (!connector) return { tokens: null, connector: null, shape: null, note: "n/a: the model has no connector" };

  const inConnector = (node: IRNode) => node.module === connector.path || node.module.startsWith(connector.path + ".");
  const fromImage = imageDependentNodes(program);
  const insideIds = new Set(program.nodes.filter(inConnector).map((n) => n.id));
  const byId = new Map(program.nodes.map((n) => [n.id, n]));

  for (const node of program.nodes) {
    if (!insideIds.has(node.id)) continue;
    for (const inputId of node.inputs) {
      if (insideIds.has(inputId) || !fromImage.has(inputId)) continue;
      const shape = byId.get(inputId)!.shape;
      const where = `${connector.path} (${connector.block}) receives ${formatShape(shape)}`;
      if (shape.length === 3) {
        const n = shape[1]!;
        return typeof n === "number"
          ? { tokens: n, connector: connector.path, shape, note: `${where}: ${n} tokens` }
          : { tokens: null, connector: connector.path, shape, note: `${where}: the token count ${n} is symbolic` };
      }
      if (shape.length === 2) return { tokens: 1, connector: connector.path, shape, note: `${where}: one pooled embedding per image` };
      return { tokens: null, connector: connector.path, shape, note: `${where}: not a token sequence` };
    }
  }
  return { tokens: null, connector: connector.path, shape: null, note: `n/a: ${connector.path} (${connector.block}) takes no image-derived input` };
}

/**
 * Ids of the nodes whose value depends on an image input. Image inputs are the float model inputs
 * of rank 4 ([B, H, W, C]); nodes are in topological order, so one forward pass suffices.
 */
function imageDependentNodes(program: IRProgram): Set<string> {
  const imageInputs = new Set(program.inputs.filter((v) => v.dtype === "float32" && v.shape.length === 4).map((v) => v.node));
  const dependent = new Set<string>();
  for (const node of program.nodes) {
    if (imageInputs.has(node.id) || node.inputs.some((id) => dependent.has(id))) dependent.add(node.id);
  }
  return dependent;
}
