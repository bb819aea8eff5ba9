/**
 * tree-sitter grammar for isf (the In Silico Framework language).
 *
 * Mirrors grammar/isf.pest. The keyword list below must equal grammar/keywords.txt;
 * tests/syntax/editor_keywords.rs checks it. Regenerate src/ with `tree-sitter generate` after edits.
 */

const KEYWORDS = [
  'import', 'as', 'let', 'neuron', 'network', 'experiment', 'mechanism',
  'if', 'then', 'else', 'in', 'by', 'true', 'false', 'and', 'or', 'not',
];

const CONTEXTUAL = ['parameter', 'state', 'current', 'assigned', 'constant', 'derivative'];

const PREC = {
  range: 1, or: 2, and: 3, compare: 4, add: 5, mul: 6, unary: 7, power: 8, postfix: 9,
};

const NAME = /[A-Za-z_µμΩ][A-Za-z0-9_µμΩ]*/;

module.exports = grammar({
  name: 'isf',

  extras: $ => [/\s/, $.line_comment, $.block_comment],

  // src/scanner.c: a unit's first name, only on the number's line and never a keyword (pest's
  // `unit_space ~ !(keyword) ~ unit`). The sentinel tells the scanner it runs in error recovery.
  externals: $ => [$._unit_first, $._error_sentinel],

  conflicts: $ => [
    [$.path_segment, $.primary_name],
    // `all_compartments precision: 10 uV` is an expression entry and a field (as pest reads
    // it), `receptor glutamate { … }` a sub-block: after two names only the next token (`:`
    // or `{`) tells, so both are tried (GLR).
    [$.sub_block, $.primary_name],
  ],

  rules: {
    source_file: $ => repeat($._item),

    _item: $ => choice($.import, $.let, $.declaration),

    import: $ => seq(
      'import',
      choice($.string, $.module_path),
      optional(seq('as', field('alias', $.identifier))),
    ),
    module_path: $ => seq(
      $.identifier,
      repeat(seq('.', $.identifier)),
      optional(seq('.', choice('*', $.import_list))),
    ),
    import_list: $ => seq('{', commaSep1($.identifier), optional(','), '}'),

    let: $ => seq(
      'let', field('name', $.identifier),
      optional(seq(':', $.unit_annotation)),
      '=', field('value', $._expression),
    ),

    declaration: $ => seq(
      field('kind', choice('neuron', 'network', 'experiment', 'mechanism')),
      field('name', $.identifier),
      optional(seq(':', field('sort', $.identifier))),
      choice($.block, seq('=', $._expression)),
    ),

    block: $ => seq('{', repeat(seq($._entry, optional(','))), '}'),

    _entry: $ => choice($.let, $.field, $.sub_block, $.statement, $.sweep_axis, $.expression_entry),

    field: $ => seq(field('key', $.field_key), ':', field('value', $._expression)),
    field_key: $ => choice($.identifier, ...KEYWORDS, ...CONTEXTUAL),

    // `soma { … }` is a sub-block, never a name followed by a record (static precedence);
    // `gate m { … }` is one sub-block rather than the entry `gate` and the sub-block
    // `m { … }` (dynamic precedence, when both parse).
    sub_block: $ => choice(
      prec(1, seq($.identifier, $.block)),
      prec.dynamic(1, seq($.identifier, $.identifier, $.block)),
    ),

    statement: $ => prec.right(seq(
      field('keyword', $.contextual_keyword),
      commaSep1($.binding),
    )),
    contextual_keyword: $ => choice(...CONTEXTUAL),
    binding: $ => prec.right(seq(
      field('name', $.identifier),
      optional(seq(':', $.unit_annotation)),
      optional(seq('=', $._expression)),
    )),
    unit_annotation: $ => choice($.unit, '1'),

    sweep_axis: $ => seq($.path, 'in', $._expression),
    path: $ => seq($.path_segment, repeat(seq('.', $.path_segment))),
    path_segment: $ => choice($.identifier, '*'),

    expression_entry: $ => prec(-1, $._expression),

    // ------------------------------------------------------------ expressions

    _expression: $ => choice(
      $.range, $.binary, $.unary, $.power, $.call, $.member, $.index,
      $.if, $.quantity, $.number, $.string, $.boolean, $.primary_name,
      $.list, $.parenthesized, $.tuple, $.record,
    ),

    primary_name: $ => $.identifier,

    range: $ => prec.left(PREC.range, seq(
      $._expression, '..', $._expression, optional(seq('by', $._expression)),
    )),

    binary: $ => choice(
      ...[
        ['or', PREC.or], ['and', PREC.and],
        ['==', PREC.compare], ['!=', PREC.compare], ['<=', PREC.compare],
        ['>=', PREC.compare], ['<', PREC.compare], ['>', PREC.compare],
        ['+', PREC.add], ['-', PREC.add], ['*', PREC.mul], ['/', PREC.mul],
      ].map(([op, p]) => prec.left(p, seq(
        field('left', $._expression), field('operator', op), field('right', $._expression),
      ))),
    ),

    unary: $ => prec(PREC.unary, seq(field('operator', choice('-', 'not')), $._expression)),

    // `^` binds tighter than prefix minus and is right-associative.
    power: $ => prec.right(PREC.power, seq($._expression, '^', $._expression)),

    call: $ => prec(PREC.postfix, seq(
      field('function', $._expression),
      '(', optional(seq(commaSep1($.argument), optional(','))), ')',
    )),
    argument: $ => seq(optional(seq(field('name', $.identifier), ':')), $._expression),
    member: $ => prec(PREC.postfix, seq($._expression, '.', field('member', $.identifier))),
    index: $ => prec(PREC.postfix, seq($._expression, '[', $._expression, ']')),

    if: $ => prec.right(seq('if', $._expression, 'then', $._expression, 'else', $._expression)),

    list: $ => seq('[', optional(seq(commaSep1($._expression), optional(','))), ']'),
    parenthesized: $ => seq('(', $._expression, ')'),
    tuple: $ => choice(
      seq('(', ')'),
      seq('(', $._expression, ',', ')'),
      seq('(', $._expression, repeat1(seq(',', $._expression)), optional(','), ')'),
    ),
    record: $ => seq('{', commaSep1($.record_field), optional(','), '}'),
    record_field: $ => seq(field('name', $.identifier), ':', $._expression),

    boolean: $ => choice('true', 'false'),

    // A unit follows its number on the same line with only blanks between, and has no spaces
    // inside: `100 ohm*cm`, `3.26e-5 S/cm2`, `2 m^-2`. `2 mV * x` multiplies by x.
    quantity: $ => prec(PREC.postfix + 1, seq(
      field('value', $.number),
      field('unit', alias($._quantity_unit, $.unit)),
    )),
    _quantity_unit: $ => seq(
      alias($._unit_first, $.unit_name),
      optional($._unit_power),
      repeat(seq(
        alias(token.immediate(prec(1, /[*\/]/)), $.unit_operator),
        alias(token.immediate(prec(1, NAME)), $.unit_name),
        optional($._unit_power),
      )),
    ),
    _unit_power: $ => seq(token.immediate(prec(1, '^')), alias(token.immediate(/-?[0-9]+/), $.unit_exponent)),

    unit: $ => seq(
      $.unit_name, optional($._unit_power),
      repeat(seq(alias(token.immediate(prec(1, /[*\/]/)), $.unit_operator), alias(token.immediate(prec(1, NAME)), $.unit_name), optional($._unit_power))),
    ),
    unit_name: $ => NAME,

    number: $ => /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/,
    string: $ => /"([^"\\\n]|\\[^\n])*"/,
    identifier: $ => NAME,

    line_comment: $ => token(seq('//', /[^\n]*/)),
    block_comment: $ => token(seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/')),
  },
});

function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}
