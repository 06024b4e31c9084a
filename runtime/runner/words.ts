/**
 * Common English words that are a single token (with their leading space) in the BPE vocabularies of
 * the usual open models (Llama, Qwen, Mistral, GPT-2 family). Synthetic prompts are drawn from them so
 * that a prompt's length in tokens is close to its length in words before calibration makes it exact.
 */
export const words = `the of and to in is was for that on with as by at from his her they this have had not are but
one all were when there can an your which their said if do will each about how up out them then she many some
so these would other into has more two time could no way first been now people my than water long down day did
get come made may part over new sound take only little work know place year live me back give most very after
thing our just name good great where help through much before line right too mean old any same tell boy follow
came want show also around form three small set put end does another well large must big even such because turn
here why ask went men read need land different home us move try kind hand picture again change off play spell air
away animal house point page letter mother answer found study still learn should world high every near add food
between own below country plant last school father keep tree never start city earth eye light thought head under
story saw left few while along might close something seem next hard open example begin life always those both
paper together got group often run important until children side feet car mile night walk white sea began grow
took river four carry state once book hear stop without second later miss idea enough eat face watch far real
almost let above girl sometimes mountain cut young talk soon list song being leave family body music color stand
sun question fish area mark dog horse birds problem complete room knew since ever piece told usually friends easy
heard order red door sure become top ship across today during short better best however low hours black products
happened whole measure remember early waves reached listen wind rock space covered fast several hold himself
toward five step morning passed true hundred against pattern numeral table north slowly money map farm pulled
draw voice seen cold cried plan notice south sing war ground fall king town unit figure certain field travel wood
fire upon done english road half ten fly gave box finally wait correct oh quickly person became shown minutes
strong verb stars front feel fact inches street decided contain course surface produce building ocean class note
nothing rest carefully scientists inside wheels stay green known island week less machine base ago stood plane
system behind ran round boat game force brought understand warm common bring explain dry though language shape
deep thousands yes clear equation yet government filled heat full hot check object bread rule among noun power
cannot able six size dark ball material special heavy fine pair circle include built`.split(/\s+/);
