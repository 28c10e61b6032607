// The errors of importing a Hugging Face checkpoint. Each is a DataError, which the CLI prints as a
// message (naming the file and what was expected vs found), never as a stack trace.
import { DataError } from "../data/types.js";

/** A problem with a Hugging Face model folder: its config, its weights, or what they ask for. */
export class HfImportError extends DataError {
  constructor(message: string, file: string) {
    super(message, file);
    this.name = "HfImportError";
  }
}
