% The zebra puzzle in SWI-Prolog: the native anchor of bench_puzzles.py.
%
% Run:  swipl -O -q benchmarks/zebra.pl [REPS]
% Prints one JSON line: the median time of one search for every solution,
% over REPS batches of BATCH searches, and the answer.
%
% The formulation is the one bench_puzzles.py gives both Python
% libraries: five houses h(Nationality, Pet, Drink, Smoke, Colour) in a
% list, the 14 clues in their published order, then the two questions.

:- initialization(main, main).

batch(20).

% Right stands immediately to the right of Left.
right_of(Left, Right, [Left, Right | _]).
right_of(Left, Right, [_ | Houses]) :-
    right_of(Left, Right, Houses).

next_to(A, B, Houses) :- right_of(A, B, Houses).
next_to(A, B, Houses) :- right_of(B, A, Houses).

zebra(Owner, Drinker, Houses) :-
    Houses = [_, _, _, _, _],
    member(h(englishman, _, _, _, red), Houses),
    member(h(spaniard, dog, _, _, _), Houses),
    member(h(_, _, coffee, _, green), Houses),
    member(h(ukrainian, _, tea, _, _), Houses),
    right_of(h(_, _, _, _, ivory), h(_, _, _, _, green), Houses),
    member(h(_, snails, _, oldgold, _), Houses),
    member(h(_, _, _, kools, yellow), Houses),
    Houses = [_, _, h(_, _, milk, _, _), _, _],
    Houses = [h(norwegian, _, _, _, _) | _],
    next_to(h(_, _, _, chesterfields, _), h(_, fox, _, _, _), Houses),
    next_to(h(_, _, _, kools, _), h(_, horse, _, _, _), Houses),
    member(h(_, _, orangejuice, luckystrike, _), Houses),
    member(h(japanese, _, _, parliaments, _), Houses),
    next_to(h(norwegian, _, _, _, _), h(_, _, _, _, blue), Houses),
    member(h(Owner, zebra, _, _, _), Houses),
    member(h(Drinker, _, water, _, _), Houses).

% Seconds per search for every solution, timed over one batch.
one_batch(Seconds) :-
    batch(Size),
    get_time(Start),
    forall(between(1, Size, _), findall(O-D, zebra(O, D, _), _)),
    get_time(End),
    Seconds is (End - Start) / Size.

median(Values, Median) :-
    msort(Values, Sorted),
    length(Sorted, Count),
    Middle is Count // 2,
    nth0(Middle, Sorted, Median).

main(Argv) :-
    (   Argv = [Text | _]
    ->  atom_number(Text, Reps)
    ;   Reps = 5
    ),
    findall(O-D, zebra(O, D, _), [Owner-Drinker]),
    findall(S, (between(1, Reps, _), one_batch(S)), Times),
    median(Times, Median),
    current_prolog_flag(version, Version),
    Major is Version // 10000,
    Minor is (Version // 100) mod 100,
    Patch is Version mod 100,
    format('{"seconds": ~9f, "reps": ~d, "version": "~d.~d.~d", ',
           [Median, Reps, Major, Minor, Patch]),
    format('"owner": "~w", "drinker": "~w"}~n', [Owner, Drinker]).
