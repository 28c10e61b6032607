// The .vlm grammar as a chevrotain CstParser. It only recognises structure; grammar/cst-to-ast.ts
// turns the CST into the AST and grammar/parse.ts turns parser errors into diagnostics.
//
// Expressions are parsed flat (`operand (op operand)*`) and grammar/cst-to-ast.ts applies the
// precedence, loosest to tightest: comparisons, `+ -`, `* / // %`, unary `-`, postfix (call
// `(...)`, member `.name`, and `as name`, which names the call right before it).
//
// Error recovery is on, so one run reports every syntax error of a file: chevrotain inserts or
// deletes a single token where that repairs the input, and otherwise skips ahead to a token that
// can follow the failed rule (the partial CST nodes are marked `recoveredNode`).
import { CstParser, type IParserErrorMessageProvider, type TokenType } from "chevrotain";
import * as T from "./tokens.js";

/**
 * Parser errors carry a small JSON payload instead of prose: grammar/parse.ts decodes it and writes
 * the message with what only it knows (the token stream, so "opened at 3:14").
 */
export interface ErrorPayload {
  kind: "mismatch" | "noViableAlt" | "earlyExit" | "notAllInput";
  rule: string;
  /** Token type names that would have been accepted. */
  expected: string[];
}

const payloadProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, ruleName }) {
    return encode({ kind: "mismatch", rule: ruleName, expected: [expected.name] });
  },
  buildNotAllInputParsedMessage({ ruleName }) {
    return encode({ kind: "notAllInput", rule: ruleName, expected: [] });
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, ruleName }) {
    return encode({ kind: "noViableAlt", rule: ruleName, expected: firstTokens(expectedPathsPerAlt.flat()) });
  },
  buildEarlyExitMessage({ expectedIterationPaths, ruleName }) {
    return encode({ kind: "earlyExit", rule: ruleName, expected: firstTokens(expectedIterationPaths) });
  },
};

function encode(p: ErrorPayload): string {
  return JSON.stringify(p);
}

function firstTokens(paths: TokenType[][]): string[] {
  const names = new Set<string>();
  for (const path of paths) if (path[0]) names.add(path[0].name);
  return [...names];
}

export class VlmParser extends CstParser {
  /**
   * True while parsing a `repeat` count: there `as` belongs to the statement
   * (`repeat depth as layers`), not to the expression. Brackets inside the count lift it.
   */
  private aliasBlocked = false;

  constructor() {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 3, errorMessageProvider: payloadProvider });
    this.performSelfAnalysis();
  }

  /** Forget state left over from an earlier input (the parser instance is reused). */
  clearAliasState(): void {
    this.aliasBlocked = false;
  }

  file = this.RULE("file", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.importDecl) },
        { ALT: () => this.SUBRULE(this.blockDecl) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]);
    });
  });

  importDecl = this.RULE("importDecl", () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLiteral, { LABEL: "path" });
  });

  blockDecl = this.RULE("blockDecl", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Block, { LABEL: "kind" }) },
      { ALT: () => this.CONSUME(T.Encoder, { LABEL: "kind" }) },
      { ALT: () => this.CONSUME(T.Projection, { LABEL: "kind" }) },
      { ALT: () => this.CONSUME(T.Connector, { LABEL: "kind" }) },
      { ALT: () => this.CONSUME(T.Model, { LABEL: "kind" }) },
    ]);
    this.CONSUME(T.Name, { LABEL: "name" });
    this.OR2([
      {
        ALT: () => {
          this.CONSUME(T.Extends);
          this.CONSUME2(T.Name, { LABEL: "base" });
          this.SUBRULE(this.argList);
          this.OPTION(() => this.SUBRULE(this.body));
        },
      },
      {
        ALT: () => {
          this.SUBRULE(this.paramList);
          this.SUBRULE2(this.body);
        },
      },
    ]);
  });

  paramList = this.RULE("paramList", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.param);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.param);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  param = this.RULE("param", () => {
    this.CONSUME(T.Name, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeName);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression, { LABEL: "default" });
    });
  });

  typeName = this.RULE("typeName", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Int, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Float, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Bool, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.String, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Block, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Encoder, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Projection, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Connector, { LABEL: "type" }) },
    ]);
  });

  /** The element type after an input's shape (`in label: [B] int`); only int and float pass cst-to-ast. */
  dtypeName = this.RULE("dtypeName", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Int, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Float, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.Bool, { LABEL: "type" }) },
      { ALT: () => this.CONSUME(T.String, { LABEL: "type" }) },
    ]);
  });

  body = this.RULE("body", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.statement) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]);
    });
    this.CONSUME(T.RCurly);
  });

  statement = this.RULE("statement", () => {
    this.ACTION(() => {
      this.aliasBlocked = false;
    });
    this.OR([
      { ALT: () => this.SUBRULE(this.inputDecl) },
      { ALT: () => this.SUBRULE(this.outputStmt) },
      { ALT: () => this.SUBRULE(this.repeatStmt) },
      { ALT: () => this.SUBRULE(this.lossStmt) },
      { ALT: () => this.SUBRULE(this.trainStmt) },
      { ALT: () => this.SUBRULE(this.assignStmt) },
    ]);
  });

  inputDecl = this.RULE("inputDecl", () => {
    this.CONSUME(T.In);
    this.CONSUME(T.Name, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.shape);
    this.OPTION(() => this.SUBRULE(this.dtypeName));
  });

  outputStmt = this.RULE("outputStmt", () => {
    this.CONSUME(T.Out);
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Name, { LABEL: "name" });
          this.CONSUME(T.Colon);
          this.SUBRULE(this.shape);
          this.OPTION(() => {
            this.CONSUME(T.Equals);
            this.SUBRULE(this.expression, { LABEL: "value" });
          });
        },
      },
      {
        ALT: () => {
          this.CONSUME2(T.Name, { LABEL: "name" });
          this.CONSUME2(T.Equals);
          this.SUBRULE2(this.expression, { LABEL: "value" });
        },
      },
      { ALT: () => this.SUBRULE3(this.expression, { LABEL: "value" }) },
    ]);
  });

  repeatStmt = this.RULE("repeatStmt", () => {
    this.CONSUME(T.Repeat);
    this.ACTION(() => {
      this.aliasBlocked = true;
    });
    this.SUBRULE(this.expression, { LABEL: "count" });
    this.ACTION(() => {
      this.aliasBlocked = false;
    });
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Name, { LABEL: "name" });
    });
    this.SUBRULE(this.body);
  });

  lossStmt = this.RULE("lossStmt", () => {
    this.CONSUME(T.Loss);
    this.SUBRULE(this.expression, { LABEL: "value" });
  });

  trainStmt = this.RULE("trainStmt", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.SUBRULE(this.trainEntry);
      this.OPTION(() => {
        this.OR([{ ALT: () => this.CONSUME(T.Comma) }, { ALT: () => this.CONSUME(T.Semicolon) }]);
      });
    });
    this.CONSUME(T.RCurly);
  });

  trainEntry = this.RULE("trainEntry", () => {
    this.CONSUME(T.Name, { LABEL: "key" });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: "value" });
  });

  assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(T.Name, { LABEL: "target" });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: "value" });
  });

  shape = this.RULE("shape", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression, { LABEL: "dims" });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression, { LABEL: "dims" });
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  /**
   * A flat run of operands and binary operators; grammar/cst-to-ast.ts applies precedence.
   * One rule instead of one per precedence level keeps the recursion per bracket level small
   * (chevrotain spends many stack frames per rule), so deep but legal nesting parses.
   */
  expression = this.RULE("expression", () => {
    this.SUBRULE(this.operand, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.BinaryOperator, { LABEL: "ops" });
      this.SUBRULE2(this.operand, { LABEL: "operands" });
    });
  });

  /**
   * Unary minuses, a primary, then postfix operations: `-x.y(z) as w`.
   *
   * Nesting recurses through here, and chevrotain spends many stack frames per rule, so the
   * recursive paths are kept short: `( expr )`, `[items]` and a call's `(args)` are inline, and an argument
   * holds its expression's operands itself, so a nested call costs operand → argument → operand.
   * The postfix operations and the arguments of chained calls (`f(a)(b)`) sit under shared
   * labels; cst-to-ast.ts puts them back in order by their source offsets.
   */
  operand = this.RULE("operand", () => {
    this.MANY(() =>
      this.OR3([
        { ALT: () => this.CONSUME(T.Minus, { LABEL: "minus" }) },
        { ALT: () => this.CONSUME(T.Frozen, { LABEL: "frozen" }) },
      ]),
    );
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral, { LABEL: "number" }) },
      { ALT: () => this.CONSUME(T.StringLiteral, { LABEL: "string" }) },
      { ALT: () => this.CONSUME(T.True, { LABEL: "bool" }) },
      { ALT: () => this.CONSUME(T.False, { LABEL: "bool" }) },
      { ALT: () => this.CONSUME(T.Name, { LABEL: "name" }) },
      {
        ALT: () => {
          this.CONSUME(T.LParen, { LABEL: "open" });
          const blocked = this.liftAliasBlock();
          this.SUBRULE(this.expression, { LABEL: "inner" });
          this.restoreAliasBlock(blocked);
          this.CONSUME(T.RParen, { LABEL: "close" });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket, { LABEL: "listOpen" });
          const blocked = this.liftAliasBlock();
          this.OPTION3(() => {
            this.SUBRULE2(this.expression, { LABEL: "items" });
            this.MANY4(() => {
              this.CONSUME3(T.Comma);
              this.SUBRULE3(this.expression, { LABEL: "items" });
            });
            this.OPTION4(() => this.CONSUME4(T.Comma));
          });
          this.restoreAliasBlock(blocked);
          this.CONSUME(T.RBracket, { LABEL: "listClose" });
        },
      },
    ]);
    this.MANY2({
      GATE: () => !(this.aliasBlocked && this.LA(1).tokenType === T.As),
      DEF: () => {
        this.OR2([
          {
            // A call's arguments, inline: an argList rule here would cost a recursion level.
            ALT: () => {
              this.CONSUME2(T.LParen, { LABEL: "callOpen" });
              const blocked = this.liftAliasBlock();
              this.OPTION(() => {
                this.SUBRULE(this.argument, { LABEL: "args" });
                this.MANY3(() => {
                  this.CONSUME(T.Comma);
                  this.SUBRULE2(this.argument, { LABEL: "args" });
                });
                this.OPTION2(() => this.CONSUME2(T.Comma));
              });
              this.restoreAliasBlock(blocked);
              this.CONSUME2(T.RParen, { LABEL: "callClose" });
            },
          },
          { ALT: () => this.SUBRULE(this.memberOp, { LABEL: "members" }) },
          { ALT: () => this.SUBRULE(this.aliasOp, { LABEL: "aliases" }) },
        ]);
      },
    });
  });

  /** `.name` */
  memberOp = this.RULE("memberOp", () => {
    this.CONSUME(T.Dot);
    this.CONSUME(T.Name, { LABEL: "member" });
  });

  /** `as name`: names the call right before it. */
  aliasOp = this.RULE("aliasOp", () => {
    this.CONSUME(T.As);
    this.CONSUME(T.Name, { LABEL: "alias" });
  });

  argList = this.RULE("argList", () => {
    this.CONSUME(T.LParen);
    const blocked = this.liftAliasBlock();
    this.OPTION(() => {
      this.SUBRULE(this.argument, { LABEL: "args" });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.argument, { LABEL: "args" });
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.restoreAliasBlock(blocked);
    this.CONSUME(T.RParen);
  });

  /** `[name =] expression`, holding the expression's operands and operators itself (see operand). */
  argument = this.RULE("argument", () => {
    this.OPTION(() => {
      this.CONSUME(T.Name, { LABEL: "name" });
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.operand, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.BinaryOperator, { LABEL: "ops" });
      this.SUBRULE2(this.operand, { LABEL: "operands" });
    });
  });

  /** Inside brackets `as` is always the call's again; returns the state to restore after them. */
  private liftAliasBlock(): boolean {
    let was = false;
    this.ACTION(() => {
      was = this.aliasBlocked;
      this.aliasBlocked = false;
    });
    return was;
  }

  private restoreAliasBlock(was: boolean): void {
    this.ACTION(() => {
      this.aliasBlocked = was;
    });
  }
}

/** One shared instance: building a chevrotain parser runs a grammar analysis, so do it once. */
let instance: VlmParser | null = null;
export function vlmParser(): VlmParser {
  instance ??= new VlmParser();
  return instance;
}

