; Highlights for isf. Capture names correspond to HighlightTag::ts_capture in
; src/syntax/highlight.rs; the keyword list equals grammar/keywords.txt.

(line_comment) @comment
(block_comment) @comment

[
  "import" "as" "let" "neuron" "network" "experiment" "mechanism"
  "if" "then" "else" "in" "by"
] @keyword

["and" "or" "not"] @keyword.operator

(boolean) @constant.builtin

(contextual_keyword) @keyword

(number) @number
(unit) @type.builtin
(unit_annotation "1" @type.builtin)

(string) @string

(declaration name: (identifier) @type)

(call function: (primary_name (identifier) @function))

(field key: (field_key) @property)
(argument name: (identifier) @property)
(record_field name: (identifier) @property)

["=" "==" "!=" "<" "<=" ">" ">=" "+" "-" "*" "/" "^" ".."] @operator
